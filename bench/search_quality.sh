#!/usr/bin/env bash
# Search quality: nDCG@10 and recall@10 of POST /api/v1/search in modes text, vector, hybrid and
# hybrid + rerank over the quality set of bench/search/quality/ (846 docstrings of CPython 3.11's
# standard library, 90 hand-written questions with judged relevant documents; README.md there),
# through a real `lakehouse serve` with the bundled embedding model, per split (dev / held-out /
# all), with the ratio of hybrid to each single mode and which reranker ran.
# Everything runs on 127.0.0.1; the servers stop when it ends; capped at 20 minutes plus 5 per
# LLM question pair (the tiny generative model took about 100 s per question at load 15).
#   bench/search_quality.sh [LLM_QUESTIONS=0]
# LLM_QUESTIONS > 0 also reranks the first LLM_QUESTIONS questions of each split with the bundled
# generative model (a second server with RERANK_MODEL=smollm2:135m-instruct-q4_1; slow: it grades
# every candidate). BUILD_DIR picks the build tree (default: build).
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"  # strict mode, ROOT, BUILD_DIR
[ -d "$BUILD_DIR" ] || cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" --target lakehouse -j2 >/dev/null
cd "$ROOT"
llm=${1:-0}
LLM_QUESTIONS=$llm PYTHONUNBUFFERED=1 LAKEHOUSE_BIN="$BUILD_DIR/app/lakehouse" \
  PYTHONPATH="$ROOT/tests/pyhelpers:$ROOT/bench/search/quality" \
  timeout $((1200 + 300 * llm)) "$ROOT/.venv/bin/python" "$ROOT/bench/search/quality/bench.py"
