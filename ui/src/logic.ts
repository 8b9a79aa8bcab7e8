// Pure UI logic (no DOM): formatting, error parsing, sorting/filtering, column summaries, CSV,
// history and share links. Unit-tested with Vitest (ui/tests/logic.test.ts).

export type Cell = string | number | bigint | boolean | null | undefined | object;

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return "-";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** A dataset name the server accepts, derived from a file name ("Sales 2024.csv" -> "sales_2024"). */
export function datasetNameFromFile(file: string): string {
  let base = file.replace(/\.[^.]*$/, "").toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "");
  if (!/^[a-z]/.test(base)) base = "d_" + base;
  return base.slice(0, 63);
}

export function isValidDatasetName(name: string): boolean {
  return /^[a-z][a-z0-9_]{0,62}$/.test(name);
}

/** The upload format implied by a file name (null: let the server sniff). */
export function formatFromFileName(file: string): string | null {
  const ext = file.toLowerCase().split(".").pop() ?? "";
  const map: Record<string, string> = { parquet: "parquet", csv: "csv", tsv: "csv", json: "json", ndjson: "ndjson", jsonl: "ndjson" };
  return map[ext] ?? null;
}

/**
 * Where a DuckDB error points in the SQL text: DuckDB appends "LINE n: <text>" and a caret line
 * under it. Returns the character offset into `sql`, or null when the message has no position.
 */
export function errorPosition(message: string, sql: string): number | null {
  const m = /LINE (\d+):( ?)(.*)\n(\s*)\^/.exec(message);
  if (m) {
    const line = Number(m[1]);
    const prefixLen = `LINE ${m[1]}:`.length + m[2].length;
    const column = Math.max(0, m[4].length - prefixLen);
    const shown = m[3];
    const lines = sql.split("\n");
    if (line >= 1 && line <= lines.length) {
      let offset = 0;
      for (let i = 0; i < line - 1; i++) offset += lines[i].length + 1;
      // DuckDB may elide the start of a long line with "..."; locate the shown text instead.
      const text = lines[line - 1];
      let col = column;
      if (shown.startsWith("...")) {
        const idx = text.indexOf(shown.slice(3, 23));
        if (idx >= 0) col = idx + column - 3;
      }
      return offset + Math.min(col, text.length);
    }
  }
  const near = /at or near "([^"]*)"/.exec(message);
  if (near) {
    const idx = sql.indexOf(near[1]);
    if (idx >= 0) return idx;
  }
  const quoted = /(?:Table|column|table|Column) (?:with name )?"?([A-Za-z_][A-Za-z0-9_]*)"? (?:does not exist|not found)/.exec(message);
  if (quoted) {
    const idx = sql.toLowerCase().indexOf(quoted[1].toLowerCase());
    if (idx >= 0) return idx;
  }
  return null;
}

/** Orders values for sorting: nulls last, numbers/bigints numerically, the rest as strings. */
export function compareCells(a: Cell, b: Cell): number {
  const an = a === null || a === undefined;
  const bn = b === null || b === undefined;
  if (an || bn) return an === bn ? 0 : an ? 1 : -1;
  if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "bigint" && typeof b === "bigint") return a < b ? -1 : a > b ? 1 : 0;
  if ((typeof a === "bigint" || typeof a === "number") && (typeof b === "bigint" || typeof b === "number")) {
    const x = Number(a), y = Number(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === "boolean" && typeof b === "boolean") return a === b ? 0 : a ? 1 : -1;
  const x = String(a), y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A row order: indices into `values` sorted stably by value (desc reverses, nulls stay last). */
export function sortIndex(values: ArrayLike<Cell>, desc: boolean, base?: Uint32Array): Uint32Array {
  const idx = base ? Uint32Array.from(base) : Uint32Array.from({ length: values.length }, (_, i) => i);
  const arr = Array.from(idx);
  arr.sort((i, j) => {
    const a = values[i], b = values[j];
    const aNull = a === null || a === undefined, bNull = b === null || b === undefined;
    if (aNull || bNull) return aNull === bNull ? i - j : aNull ? 1 : -1;
    const c = compareCells(a, b);
    return (desc ? -c : c) || i - j;
  });
  return Uint32Array.from(arr);
}

/** Rows whose cells (as text) contain `needle`, case-insensitively. `cell(r, c)` reads the result. */
export function filterRows(rowCount: number, colCount: number, cell: (r: number, c: number) => Cell, needle: string): Uint32Array {
  const n = needle.toLowerCase();
  const out: number[] = [];
  for (let r = 0; r < rowCount; r++) {
    for (let c = 0; c < colCount; c++) {
      const v = cell(r, c);
      if (v !== null && v !== undefined && displayValue(v).toLowerCase().includes(n)) {
        out.push(r);
        break;
      }
    }
  }
  return Uint32Array.from(out);
}

export function displayValue(v: Cell): string {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "object") {
    if (v instanceof Date) return v.toISOString();
    try {
      return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x));
    } catch {
      return String(v);
    }
  }
  return String(v);
}

export interface ColumnSummary {
  count: number;
  nulls: number;
  distinct: number;
  distinctExact: boolean;
  min: Cell;
  max: Cell;
  histogram: { lo: number; hi: number; count: number }[] | null;
  top: { value: string; count: number }[] | null;
}

/** DuckDB's "column explorer": nulls, distinct count (exact up to a cap), min/max and a histogram. */
export function summarize(values: ArrayLike<Cell>, bins = 20, distinctCap = 100000): ColumnSummary {
  let nulls = 0;
  let min: Cell = null, max: Cell = null;
  const seen = new Map<string, number>();
  let capped = false;
  let numeric = true;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      nulls++;
      continue;
    }
    if (typeof v !== "number" && typeof v !== "bigint") numeric = false;
    if (min === null || compareCells(v, min) < 0) min = v;
    if (max === null || compareCells(v, max) > 0) max = v;
    const key = displayValue(v);
    const prev = seen.get(key);
    if (prev !== undefined) seen.set(key, prev + 1);
    else if (seen.size < distinctCap) seen.set(key, 1);
    else capped = true;
  }
  const count = values.length - nulls;
  let histogram: ColumnSummary["histogram"] = null;
  let top: ColumnSummary["top"] = null;
  if (numeric && count > 0) {
    const lo = Number(min), hi = Number(max);
    const n = lo === hi ? 1 : bins;
    const width = (hi - lo) / n || 1;
    histogram = Array.from({ length: n }, (_, b) => ({ lo: lo + b * width, hi: lo + (b + 1) * width, count: 0 }));
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v === null || v === undefined) continue;
      const b = Math.min(n - 1, Math.floor((Number(v) - lo) / width));
      histogram[b].count++;
    }
  } else if (count > 0) {
    top = [...seen.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([value, c]) => ({ value, count: c }));
  }
  return { count, nulls, distinct: seen.size, distinctExact: !capped, min, max, histogram, top };
}

/** One CSV field (RFC 4180): quoted when it holds a comma, quote or line break; NULL is empty. */
export function csvField(v: Cell): string {
  if (v === null || v === undefined) return "";
  const s = typeof v === "object" ? displayValue(v) : String(v);
  if (s === "") return '""';
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(columns: string[], rowCount: number, cell: (r: number, c: number) => Cell): string {
  const lines = [columns.map(csvField).join(",")];
  for (let r = 0; r < rowCount; r++) {
    const parts: string[] = [];
    for (let c = 0; c < columns.length; c++) parts.push(csvField(cell(r, c)));
    lines.push(parts.join(","));
  }
  return lines.join("\r\n") + "\r\n";
}

/** Query history: newest first, no adjacent duplicates, at most `max` entries. */
export function pushHistory(history: string[], sql: string, max = 100): string[] {
  const s = sql.trim();
  if (!s) return history;
  return [s, ...history.filter((h) => h !== s)].slice(0, max);
}

/** The statement under the cursor when nothing is selected: the text between semicolons. */
export function statementAt(text: string, pos: number): string {
  let start = text.lastIndexOf(";", pos - 1) + 1;
  let end = text.indexOf(";", pos);
  if (end < 0) end = text.length;
  // The cursor right after a ';' means the statement before it.
  if (text.slice(start, end).trim() === "" && start > 0) {
    end = start - 1;
    start = text.lastIndexOf(";", end - 1) + 1;
  }
  return text.slice(start, end).trim();
}

export function shareUrl(origin: string, sql: string): string {
  return `${origin}/sql?q=${encodeURIComponent(sql)}`;
}

export interface ServerError {
  status: number;
  code: string;
  message: string;
}

/** The server's JSON error body ({"error": {code, message}}) or a readable fallback. */
export function parseError(status: number, body: string): ServerError {
  try {
    const j = JSON.parse(body);
    if (j && j.error && typeof j.error.message === "string") return { status, code: String(j.error.code ?? ""), message: j.error.message };
  } catch {
    /* not JSON */
  }
  if (status === 0) return { status, code: "network", message: "the server could not be reached" };
  return { status, code: "http_" + status, message: body.trim().slice(0, 500) || `HTTP ${status}` };
}

/** Schema difference between two manifests' column lists. */
export function schemaDiff(
  a: { name: string; type: string }[],
  b: { name: string; type: string }[],
): { added: string[]; removed: string[]; changed: string[] } {
  const am = new Map(a.map((c) => [c.name, c.type]));
  const bm = new Map(b.map((c) => [c.name, c.type]));
  const added = b.filter((c) => !am.has(c.name)).map((c) => `${c.name} ${c.type}`);
  const removed = a.filter((c) => !bm.has(c.name)).map((c) => `${c.name} ${c.type}`);
  const changed = b.filter((c) => am.has(c.name) && am.get(c.name) !== c.type).map((c) => `${c.name}: ${am.get(c.name)} -> ${c.type}`);
  return { added, removed, changed };
}

/** Picks chart axes from column types: x = first temporal/text/numeric column, y = first other numeric. */
export function isNumericType(t: string): boolean {
  return /^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|DOUBLE|FLOAT|HALF|REAL|DECIMAL|NUMERIC)\b/i.test(t) && !t.endsWith("[]");
}

export function pickAxes(types: string[], names: string[] = []): { x: number; y: number } | null {
  const isNum = isNumericType;
  const isTime = (t: string) => /DATE|TIME/i.test(t);
  const isKey = (i: number) => /^(id|.*_id)$/i.test(names[i] ?? "");
  // Measures before keys: an "id" column makes a poor y axis.
  const nums = types
    .map((t, i) => (isNum(t) ? i : -1))
    .filter((i) => i >= 0)
    .sort((a, b) => Number(isKey(a)) - Number(isKey(b)) || a - b);
  if (nums.length === 0) return null;
  const time = types.findIndex(isTime);
  if (time >= 0) return { x: time, y: nums[0] };
  const text = types.findIndex((t) => !isNum(t));
  if (text >= 0) return { x: text, y: nums[0] };
  if (nums.length >= 2) return { x: nums[0], y: nums[1] };
  return { x: -1, y: nums[0] };
}
