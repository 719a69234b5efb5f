#!/bin/sh
# Entry of the folder scripts/gpu-bundle.sh makes: prints the WebGPU adapter, runs the webgpu
# equivalence checks and bench:gpu, and writes checks.json, gpu.json and the printed tables
# (run.log) to the directory $1. Needs no Node, npm or network; xz to unpack the binaries once.
# The Vulkan driver: VK_ICD_FILENAMES when set, else an NVIDIA ICD under /usr/local/nvidia,
# /usr/share/vulkan or /etc/vulkan, else the loader's default search.
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${1:?usage: run.sh RESULTS_DIR}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

# Unpack the compressed binaries next to their .xz (once).
for packed in "$HERE/bin/node.xz" "$HERE"/node_modules/webgpu/dist/linux-x64/dawn.node.xz "$HERE"/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/*.xz; do
  target="${packed%.xz}"
  if [ ! -e "$target" ]; then
    command -v xz >/dev/null 2>&1 || { echo "run.sh: xz is needed once to unpack $packed" >&2; exit 2; }
    xz -dc "$packed" > "$target.part" && mv "$target.part" "$target"
  fi
done
chmod +x "$HERE/bin/node"
NODE="$HERE/bin/node"

# The Vulkan loader: the system's when there is one, else the bundled copy.
LDCONFIG="$(command -v ldconfig || echo /sbin/ldconfig)"
if ! "$LDCONFIG" -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then
  LD_LIBRARY_PATH="$HERE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# NVIDIA containers keep the driver's libraries (which the ICD names) here.
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  [ -d "$d" ] && LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
done
export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}"
if [ -z "${VK_ICD_FILENAMES:-}" ]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/icd.d/nvidia_icd.json \
    /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then
      export VK_ICD_FILENAMES="$icd"
      break
    fi
  done
fi
echo "Vulkan ICD: ${VK_ICD_FILENAMES:-loader default search}; LD_LIBRARY_PATH=${LD_LIBRARY_PATH}"
echo "Node $("$NODE" --version) ($NODE)"

# Each step's exit status goes to a file: the block runs in a pipeline (a subshell).
{
  echo "== equivalence checks (packages/cli/test/webgpu.test.ts) =="
  "$NODE" "$HERE/app/checks.mjs" "$OUT" && echo 0 > "$OUT/checks.status" || echo $? > "$OUT/checks.status"
  echo
  echo "== bench:gpu =="
  BENCH_OUT="$OUT" "$NODE" "$HERE/app/gpu.mjs" && echo 0 > "$OUT/bench.status" || echo $? > "$OUT/bench.status"
} 2>&1 | grep --line-buffered -v 'artificially reduced from' | tee "$OUT/run.log"
echo "results in $OUT: checks.json, gpu.json, run.log (exit status: checks $(cat "$OUT/checks.status"), bench $(cat "$OUT/bench.status"))"
[ "$(cat "$OUT/checks.status")" = 0 ] && [ "$(cat "$OUT/bench.status")" = 0 ]
