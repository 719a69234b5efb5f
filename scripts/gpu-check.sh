#!/usr/bin/env bash
# The GPU machine check, from a checkout with node_modules (no network needed): prints the WebGPU
# adapter, runs the webgpu test file (packages/cli/test/webgpu.test.ts) and bench:gpu (which
# writes bench/results/gpu.json and prints its table). The Vulkan driver: VK_ICD_FILENAMES when
# set, else an NVIDIA ICD under /usr/local/nvidia or the standard places, else the loader's search.
# On a machine without Node, use scripts/gpu-bundle.sh instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VK_ICD_FILENAMES:-}" ]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/icd.d/nvidia_icd.json \
    /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then export VK_ICD_FILENAMES="$icd"; break; fi
  done
fi
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  if [ -d "$d" ]; then export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"; fi
done
echo "Vulkan ICD: ${VK_ICD_FILENAMES:-loader default search}"
npx tsc -b tsconfig.build.json
node --input-type=module -e "
import { selectBackend, adapterLabel } from '@supermask/core';
try { const s = await selectBackend('webgpu'); console.log('WebGPU adapter: ' + adapterLabel(s.adapter)); console.log(JSON.stringify(s.adapter, null, 2)); }
catch (e) { console.log('no WebGPU adapter: ' + e.message); process.exit(1); }
" 2>&1 | grep -v 'artificially reduced from'
npx vitest run packages/cli/test/webgpu.test.ts 2>&1 | grep -v 'artificially reduced from'
node bench/gpu.mjs 2>&1 | grep -v 'artificially reduced from'
