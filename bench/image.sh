#!/bin/sh
# bench/image.sh: throughput of image and video preprocessing (no model).
#
#   bench/image.sh [SECS]     each image case runs for about SECS seconds (5)
#
# Builds build/bench/image, makes the fixtures once under build/bench/media
# (the drawn photo and screenshot from `image gen`, a HEIC of the photo
# with heif-enc, 1080p clips with ffmpeg), then measures one thread and two
# threads. Everything runs under nice: the machine is shared. Results are
# kept in bench/README-media.md by hand.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-5}
dir=build/bench/media
bin=build/bench/image

for tool in heif-enc ffmpeg; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "bench/image.sh: needs $tool (scripts/deps --test)" >&2
        exit 1
    }
done

make --no-print-directory -s "$bin"
mkdir -p "$dir"
if [ ! -f "$dir/photo.jpg" ] || [ ! -f "$dir/screenshot.png" ]; then
    nice "$bin" gen "$dir"
fi
[ -f "$dir/photo.heic" ] || nice heif-enc -q 50 "$dir/photo.png" -o "$dir/photo.heic" >/dev/null
ff="nice ffmpeg -nostdin -v error -y"
# A phone-like clip: 1080p30 H.264, 15 s, moving content throughout.
[ -f "$dir/clip-h264.mp4" ] ||
    $ff -f lavfi -i testsrc2=s=1920x1080:r=30:d=15 -c:v libx264 -preset veryfast \
        -g 30 -pix_fmt yuv420p "$dir/clip-h264.mp4"
# The same as HEVC with a still middle third (what iPhones record).
[ -f "$dir/clip-hevc.mp4" ] ||
    $ff -f lavfi -i "testsrc2=s=1920x1080:r=30:d=5[a];testsrc2=s=1920x1080:r=30:d=1,\
trim=end_frame=1,loop=loop=149:size=1,setpts=N/30/TB[b];testsrc2=s=1920x1080:r=30:d=5[c];\
[a][b][c]concat=n=3" -c:v libx265 -preset ultrafast -x265-params log-level=error -g 30 \
        -pix_fmt yuv420p -tag:v hvc1 "$dir/clip-hevc.mp4"

ls -l "$dir"
echo "--- images ($(nproc) cores; $(uname -m))"
for t in 1 2; do
    nice "$bin" run -t "$t" -s "$secs" "$dir/photo.jpg" "$dir/screenshot.png" \
        "$dir/photo.webp" "$dir/photo.heic"
done
echo "--- video (default options: 1 fps, 16 frames, 1024 px)"
for t in 1 2; do
    nice "$bin" video -t "$t" "$dir/clip-h264.mp4" "$dir/clip-hevc.mp4"
done
