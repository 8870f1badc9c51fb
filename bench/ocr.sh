#!/usr/bin/env bash
# bench/ocr.sh [N] [DATA_DIR] [SET] [SKIP]: character error rate and time per picture of
# the Kannada OCR fallback (src/ingest/ocr.c, Tesseract kan+eng), on Kannada
# sentences rendered with Debian's Kannada fonts.
#
# Sentences: the first N (40) lines labelled kn in DATA_DIR/dev.tsv
# (../shared/langid; FLORES-style news sentences) that are Kannada script
# only (no Latin letters), at most 270 bytes (31 such). SET "train" takes
# them from DATA_DIR/train.tsv instead: a second set, for checking that
# what was tuned on the dev pictures holds on others (OCR learns nothing
# from either). SKIP (default 0) passes over that many sentences first:
# `bench/ocr.sh 40 ../shared/langid train 40` is a third set, sentences
# 41-80 of train.tsv. Each is rendered by
# pango-view (HarfBuzz shaping; Noto Sans Kannada, Noto Serif Kannada and
# Lohit Kannada in turn, 22 to 30 pt, wrapped at 900 px) into a JPEG, then
# degraded with ffmpeg:
#   clean       as rendered (JPEG q2)
#   blur        Gaussian blur, sigma 1.2
#   rotation    turned 4 degrees (alternately left and right), white fill
#   low-light   dark and flat (brightness -0.35, contrast 0.45), grain 10
#   screen      a photographed screen: a slight keystone (1.2% a side),
#               moire (a fine sine pattern, 18% deep), vignette, grain 18,
#               blur 0.8, saved as a poor JPEG (ffmpeg q:v 12)
# build/bench/ocr then reads each picture as the pipeline does and prints
# CER per condition (targets: <= 3% clean, <= 10% degraded) and the time.
# Needs pango1.0-tools, fonts-noto-core, fonts-lohit-knda, ffmpeg,
# tesseract-ocr-kan, tesseract-ocr-eng (scripts/deps --test).
set -eu
cd "$(dirname "$0")/.."
n=${1:-40}
data=${2:-../shared/langid}
set_=${3:-dev}
skip=${4:-0}
case $set_ in
dev) out=build/bench/ocr-pics ;;
train) out=build/bench/ocr-pics-train ;;
*)
    echo "ocr: SET is dev or train, not $set_" >&2
    exit 2
    ;;
esac
[ "$skip" -gt 0 ] && out=$out-$skip
mkdir -p "$out"
make -j2 --no-print-directory build/bench/ocr >/dev/null

if [ ! -f "$data/$set_.tsv" ]; then
    echo "ocr: $data/$set_.tsv not found (the Kannada sentences)" >&2
    exit 2
fi
echo "## machine"
echo "$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo

awk -F'\t' '$1 == "kn" && $2 !~ /[A-Za-z]/ && length($2) <= 270 { print $2 }' "$data/$set_.tsv" |
    awk 'length($0) > 0' | tail -n +"$((skip + 1))" | head -n "$n" >"$out/sentences.txt"

fonts=("Noto Sans Kannada" "Noto Serif Kannada" "Lohit Kannada")
FF="ffmpeg -nostdin -v error -y"
: >"$out/manifest.tsv"
i=0
while IFS= read -r s; do
    font=${fonts[$((i % 3))]}
    size=$((22 + (i % 5) * 2))
    base="$out/s$i"
    printf '%s\n' "$s" >"$base.txt"
    pango-view --no-display --font="$font $size" --width=900 --wrap=word --margin=40 \
        --background=white --foreground=black -o "$base.png" "$base.txt" 2>/dev/null
    ref=$(printf '%s' "$s" | tr '\t' ' ')
    $FF -i "$base.png" -q:v 2 "$base-clean.jpg"
    $FF -i "$base.png" -vf "gblur=sigma=1.2" -q:v 2 "$base-blur.jpg"
    deg=$([ $((i % 2)) -eq 0 ] && echo 4 || echo -4)
    $FF -i "$base.png" -vf "rotate=${deg}*PI/180:ow=rotw(${deg}*PI/180):oh=roth(${deg}*PI/180):fillcolor=white" \
        -q:v 2 "$base-rotation.jpg"
    $FF -i "$base.png" -vf "format=yuv420p,eq=brightness=-0.35:contrast=0.45,noise=alls=10:allf=t" \
        -q:v 2 "$base-lowlight.jpg"
    $FF -i "$base.png" -vf "format=gray,perspective=x0=W*0.012:y0=0:x1=W*0.988:y1=0:x2=0:y2=H:x3=W:y3=H:sense=destination:interpolation=cubic,geq=lum='lum(X\,Y)*(0.82+0.18*sin(X*1.9+Y*0.35))',vignette=PI/5,noise=alls=18:allf=t,gblur=sigma=0.8" \
        -q:v 12 "$base-screen.jpg"
    for c in clean blur rotation lowlight screen; do
        printf '%s\t%s\t%s\n' "$c" "$base-$c.jpg" "$ref" >>"$out/manifest.tsv"
    done
    i=$((i + 1))
done <"$out/sentences.txt"

echo "## $i sentences, $(wc -l <"$out/manifest.tsv") pictures (pictures in $out)"
echo
echo "### as the pipeline reads them (confidence floors on)"
build/bench/ocr "$out/manifest.tsv"
echo
echo "### every word kept (--all)"
build/bench/ocr --all "$out/manifest.tsv"
