#!/usr/bin/env bash
# Every number in BENCHMARKS.md: stage tables per architecture, stylecam vs onnxruntime vs torch,
# ONNX Runtime session options, the CPU graph forms (--cpu-graph) and the pixel kernels.
#
#   scripts/bench_all.sh [OUT_DIR]     (default: target/bench-results/; needs target/release/stylecam)
#
# Each section starts with the machine's load average: numbers taken on a busy machine are slow.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-target/bench-results}
THREADS=${THREADS:-2}
FRAMES=${FRAMES:-10}
BIN=target/release/stylecam
PY=${STYLECAM_PYTHON:-.venv/bin/python}
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }

section() { echo "### $1 — $(date -u +%H:%M:%S) UTC, load average: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/log.txt"; }

{
  grep -m1 'model name' /proc/cpuinfo
  echo "cores: $(nproc) ($(grep -c ^processor /proc/cpuinfo) logical)"
  grep -m1 -o 'avx512[a-z]*' /proc/cpuinfo | head -1 || true
  uname -srm
} > "$OUT/machine.txt"

for arch in w32-b5 w16-b3 w8-b3 w8-b1; do
  section "stylecam bench --arch $arch"
  "$BIN" --device cpu --threads "$THREADS" bench --arch "$arch" --size 320x240,640x480,1280x720 \
    --frames "$FRAMES" --warmup 2 | tee "$OUT/bench-$arch.txt"
done

section "compare.py"
"$PY" scripts/compare.py --threads "$THREADS" --frames "$FRAMES" --warmup 2 --rounds 3 \
  --json "$OUT/compare.json" | tee "$OUT/compare.md"

section "session options (w32-b5, 640x480)"
"$BIN" --device cpu --threads "$THREADS" bench --arch w32-b5 --size 640x480 --frames "$FRAMES" \
  --warmup 2 --session-options | tee "$OUT/session-options.md"

for arch in w32-b5 w16-b3 w8-b3 w8-b1; do
  for graph in reference tail head-tail; do
    section "graph form $graph ($arch)"
    "$BIN" --device cpu --threads "$THREADS" --cpu-graph "$graph" bench --arch "$arch" \
      --size 640x480,1280x720 --frames "$FRAMES" --warmup 2 | tee "$OUT/graph-$arch-$graph.txt"
  done
done

section "cargo bench --bench pixels"
cargo bench --bench pixels 2>&1 | grep -E 'time:|^pixels/' | tee "$OUT/pixels.txt"
section "done"
