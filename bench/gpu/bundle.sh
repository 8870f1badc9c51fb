#!/bin/sh
# bench/gpu/bundle.sh: packs hermod and gguf-gen with every shared library
# they load (glibc and its loader included) into .gpu/bundle, so that they
# run on the GPU machine, which has none of them and cannot install any.
# Run them there as: .gpu/bundle/lib/ld-linux-x86-64.so.2 --library-path
# .gpu/bundle/lib .gpu/bundle/hermod ...  (bench/gpu/run.sh does).
set -eu
cd "$(dirname "$0")/../.."
make -s build/hermod build/gguf-gen >/dev/null
rm -rf .gpu/bundle
mkdir -p .gpu/bundle/lib
cp build/hermod build/gguf-gen .gpu/bundle/
for bin in build/hermod build/gguf-gen; do
    ldd "$bin" | awk '/=>/ {print $3} /ld-linux/ {print $1}' | while read -r lib; do
        [ -f "$lib" ] && cp -L "$lib" .gpu/bundle/lib/
    done
done
cp bench/gpu/bench.py bench/gpu/run.sh .gpu/bundle/
du -sh .gpu/bundle
