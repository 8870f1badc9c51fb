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
# Phone-like clips, 1080p30, 15 s: a red card moving across testsrc2's
# pattern, as H.264; and as HEVC (what iPhones record) with the card
# still for the middle 5 s.
[ -f "$dir/clip-h264.mp4" ] ||
    $ff -f lavfi -i "testsrc2=s=1920x1080:r=30:d=15[bg];color=c=red:s=480x480:r=30:d=15[fg];\
[bg][fg]overlay=x=t*90:y=300" -c:v libx264 -preset veryfast -g 30 -pix_fmt yuv420p \
        "$dir/clip-h264.mp4"
[ -f "$dir/clip-hevc.mp4" ] ||
    $ff -f lavfi -i "testsrc2=s=1920x1080:r=30:d=15[bg];color=c=red:s=480x480:r=30:d=15[fg];\
[bg][fg]overlay=x=if(lt(t\\,5)\\,t*90\\,if(lt(t\\,10)\\,450\\,450+(t-10)*90)):y=300" \
        -c:v libx265 -preset ultrafast -x265-params log-level=error -g 30 -pix_fmt yuv420p \
        -tag:v hvc1 "$dir/clip-hevc.mp4"

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
