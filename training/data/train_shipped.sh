#!/usr/bin/env bash
# Distils the shipped styles: every painting named (default: all ten) in one variant.
#   training/data/train_shipped.sh fast|full [NAME ...]
# Data: training/data/prepare_open_data.sh's output in $DATA (default out/distill-data); paintings
# in $STYLES (default ../shared/data/styles); checkpoints in runs/<name>-<variant> (re-running the
# same command resumes an interrupted style; finished styles are skipped). Writes models/NAME.onnx
# (full) or models/NAME-fast.onnx (fast). A full variant starts from the style's trained fast
# variant, grown to the seed's network (--init-from; train the fast ones first), and fine-tunes it
# for $FULL_STEPS steps (default 400) at learning rate 3e-4. Extra stylecam-train flags: $DISTILL_FLAGS;
# the trainer binary: $TRAINER (default target/release/stylecam-train; point it at a copy to rebuild meanwhile).
set -euo pipefail
cd "$(dirname "$0")/../.."
variant=${1:?usage: $0 fast|full [NAME ...]}; shift
data=${DATA:-out/distill-data}
styles=${STYLES:-../shared/data/styles}
names=("$@")
[ ${#names[@]} -eq 0 ] && names=($(ls "$styles" | sed 's/\.[^.]*$//'))
case $variant in
  fast) suffix=-fast ;;
  full) suffix= ;;
  *) echo "error: variant must be fast or full" >&2; exit 1 ;;
esac
for name in "${names[@]}"; do
  out=models/$name$suffix.onnx
  run=runs/$name-$variant
  if [ -f "$run/done" ] && [ -f "$out" ]; then echo "$name ($variant): done, skipped"; continue; fi
  painting=$(ls "$styles/$name".* | head -1)
  start=()
  if [ "$variant" = full ]; then
    [ -f "models/$name-fast.onnx" ] || { echo "error: models/$name-fast.onnx missing: run $0 fast $name first" >&2; exit 1; }
    start=(--init-from "models/$name-fast.onnx" --lr 3e-4 --steps "${FULL_STEPS:-400}")
  fi
  echo "== $name ($variant) =="
  mkdir -p "$run"
  /usr/bin/time -f "wall %e s" ${TRAINER:-target/release/stylecam-train} distill --style "$painting" \
    --data "$data/train" --val "$data/val" --variant "$variant" --out "$out" --name "$name" \
    --checkpoint-dir "$run" --checkpoint-every 100 --sample-every 200 --device cpu \
    --threads "${THREADS:-2}" --resume "${start[@]}" ${DISTILL_FLAGS:-} 2>&1 | tee -a "$run/train.log"
  [ "${PIPESTATUS[0]}" = 0 ] || { echo "error: $name ($variant) failed, see $run/train.log" >&2; exit 1; }
  touch "$run/done"
done
