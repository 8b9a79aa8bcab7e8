# Sourced by the bench scripts that print a summary against targets (bench/catalog.sh,
# bench/iceberg.sh). They write "RESULT name=value" lines to the file named by $results.

# get NAME: the value of the line "RESULT NAME=value" in $results.
get() { sed -n "s/^RESULT $1=//p" "$results"; }

# check LABEL VALUE OP TARGET: one summary line, "ok" or "MISSED"; OP is >=, <= or <.
check() {
  local verdict
  verdict=$(awk -v v="$2" -v t="$4" -v op="$3" \
    'BEGIN { ok = (op == ">=") ? v >= t : (op == "<=") ? v <= t : v < t; print ok ? "ok" : "MISSED" }')
  printf '%-52s %10s   target %s %s   %s\n' "$1" "$2" "$3" "$4" "$verdict"
}
