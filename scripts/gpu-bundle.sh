#!/usr/bin/env bash
# Packs the webgpu equivalence checks and bench:gpu into one folder (default .gpu-bundle/, at
# most 60 MiB) to copy to a linux-x64 machine with a GPU and no Node, npm or network:
#   app/checks.mjs   packages/cli/test/webgpu.test.ts run without vitest (esbuild bundle)
#   app/gpu.mjs      bench/gpu.mjs (esbuild bundle; tfjs, its webgpu backend, the packages inside)
#   node_modules/    what stays outside the bundles: Dawn (webgpu: dawn.node, linux-x64 only)
#                    and onnxruntime-node (the cpu-ort reference), native libraries xz-compressed
#   bin/node.xz      this machine's Node binary, xz-compressed
#   lib/             libvulkan.so.1 (used when the target has no Vulkan loader)
#   configs/, models/  the configs bench:gpu reads and the embedded local-bert
#   run.sh           unpacks, finds the Vulkan driver, runs both, writes to the directory $1
# Usage: scripts/gpu-bundle.sh [OUT_DIR]; then on the GPU machine: OUT_DIR/run.sh RESULTS_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-.gpu-bundle}"
LIMIT_MIB=60

for f in node_modules/webgpu/dist/linux-x64/dawn.node node_modules/@tensorflow/tfjs-backend-webgpu/package.json node_modules/.bin/esbuild; do
  [ -e "$f" ] || { echo "gpu-bundle: $f is missing (run npm ci)" >&2; exit 2; }
done
VULKAN_LOADER="$(ldconfig -p | awk '/libvulkan\.so\.1 .*x86-64/ { print $NF; exit }')"
[ -n "$VULKAN_LOADER" ] || { echo "gpu-bundle: libvulkan.so.1 not found (apt-get install libvulkan1)" >&2; exit 2; }
command -v xz >/dev/null || { echo "gpu-bundle: xz not found (apt-get install xz-utils)" >&2; exit 2; }

npx tsc -b tsconfig.build.json
rm -rf "$OUT"
mkdir -p "$OUT/app" "$OUT/bin" "$OUT/lib" "$OUT/configs"

# Everything but the native modules in one file per entry; the optional modules selectBackend
# imports by name are bundled through scripts/gpu-bundle/importer.mjs, still loaded lazily.
bundle() {
  node_modules/.bin/esbuild "$1" --bundle --platform=node --format=esm --target=node20 --log-level=warning \
    --outfile="$2" --alias:vitest=./scripts/gpu-bundle/vitest-shim.mjs \
    --external:webgpu --external:onnxruntime-node --external:@huggingface/transformers \
    --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu --external:@resvg/resvg-js \
    --banner:js="import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"
}
bundle scripts/gpu-bundle/bench.mjs "$OUT/app/gpu.mjs"
bundle scripts/gpu-bundle/checks.mjs "$OUT/app/checks.mjs"
cp configs/split-fmnist-supsup.json configs/split-fmnist-resnet18-supsup.json "$OUT/configs/"
cp -r packages/backbone-bert/models "$OUT/models"

# Dawn's binding: package.json, index.js and the linux-x64 dawn.node only.
mkdir -p "$OUT/node_modules/webgpu/dist/linux-x64"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js node_modules/webgpu/LICENSE.md "$OUT/node_modules/webgpu/"
xz -T0 -9 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$OUT/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
# onnxruntime-node (the cpu-ort reference): its JS, onnxruntime-common, the linux-x64 libraries.
ORT=node_modules/onnxruntime-node
mkdir -p "$OUT/$ORT/bin/napi-v6/linux/x64" "$OUT/node_modules/onnxruntime-common"
cp -r "$ORT/package.json" "$ORT/dist" "$OUT/$ORT/"
cp -r node_modules/onnxruntime-common/package.json node_modules/onnxruntime-common/dist "$OUT/node_modules/onnxruntime-common/"
for f in "$ORT"/bin/napi-v6/linux/x64/*; do xz -T0 -9 -c "$f" > "$OUT/$f.xz"; done

xz -T0 -9 -c "$(command -v node)" > "$OUT/bin/node.xz"
cp -L "$VULKAN_LOADER" "$OUT/lib/libvulkan.so.1"
cp scripts/gpu-bundle/run.sh "$OUT/run.sh"
chmod +x "$OUT/run.sh"

SIZE_KIB=$(du -sk "$OUT" | cut -f1)
echo "gpu-bundle: $OUT is $((SIZE_KIB / 1024)) MiB ($(node --version) linux-x64, $(basename "$VULKAN_LOADER"))"
if [ "$SIZE_KIB" -gt $((LIMIT_MIB * 1024)) ]; then
  echo "gpu-bundle: over the ${LIMIT_MIB} MiB limit" >&2
  exit 1
fi
