#!/usr/bin/env bash
# Builds the training, held-out and flicker sets the shipped styles are distilled on, from data
# whose licences allow shipping what is trained on it (see models/README.md):
#   train/   Kodak photos (train_open/ and content/, minus the held-out ones) and frames of the
#            CC BY 4.0 clips in video/ (every 6th frame of 12 webcam-like ASL clips, plus frames of
#            asl_book, one-by-one-person-detection and car-detection)
#   val/     held-out: kodim23, chelsea, coffee and every 10th frame of the ASL clips thanks, want, yes
#   clips/   the held-out clips' frames in order (flicker measurement), one folder per clip
# Never uses data/train (BSDS500: non-commercial). Needs ffmpeg.
# Usage: training/data/prepare_open_data.sh ../shared/data out/distill-data
set -euo pipefail
src=${1:?usage: $0 SHARED_DATA_DIR OUT_DIR}
out=${2:?usage: $0 SHARED_DATA_DIR OUT_DIR}
command -v ffmpeg >/dev/null || { echo "error: ffmpeg not found (sudo apt-get install ffmpeg)" >&2; exit 1; }
held_photos="kodim23.png chelsea.png coffee.png"
held_clips="thanks want yes"
# tubingen.jpg: licence not verified (SOURCES.md), so it trains nothing.
skip_photos="$held_photos tubingen.jpg"
rm -rf "$out"; mkdir -p "$out/train" "$out/val" "$out/clips"
cp "$src"/train_open/*.png "$out/train/"
for f in "$src"/content/*; do
  b=$(basename "$f")
  case " $skip_photos " in *" $b "*) ;; *) cp "$f" "$out/train/" ;; esac
done
for b in $held_photos; do cp "$src/content/$b" "$out/val/"; done
frames() { # clip every-nth prefix dest
  ffmpeg -v error -i "$1" -vf "select='not(mod(n\,$2))'" -vsync vfr "$4/$3-%03d.png"
}
for clip in "$src"/video/asl/*.mkv; do
  w=$(basename "$clip" .mkv)
  case " $held_clips " in
    *" $w "*)
      frames "$clip" 10 "asl-$w" "$out/val"
      mkdir -p "$out/clips/$w"; ffmpeg -v error -i "$clip" "$out/clips/$w/%04d.png" ;;
    *) frames "$clip" 6 "asl-$w" "$out/train" ;;
  esac
done
frames "$src/video/asl_book.mp4" 10 asl-book "$out/train"
frames "$src/video/one-by-one-person-detection.mp4" 40 person "$out/train"
frames "$src/video/car-detection.mp4" 25 car "$out/train"
echo "$(ls "$out/train" | wc -l) training, $(ls "$out/val" | wc -l) held-out images, $(ls "$out/clips" | wc -l) clips in $out"
