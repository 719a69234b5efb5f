import { GraphBuilder } from './onnx.js';
import type { OrtRuntime } from './runtime.js';

/**
 * ONNX Runtime's blocked convolutions (MLAS "NCHWc": channels in blocks of 8 with AVX2, 16 with
 * AVX-512, chosen by MLAS for the CPU it runs on), reached through its contrib operator domain:
 * `ReorderInput` (NCHW -> NCHWc), `Conv` (the blocked convolution, filter in OIHWBiBo order) and
 * `ReorderOutput` (back to NCHW). ONNX Runtime's own NchwcTransformer only uses them for a Conv
 * whose weight is a constant initializer; here the filter is a graph input (the effective weight
 * W * M, new every step), reordered inside the graph.
 */
export const NCHWC_DOMAIN = 'com.microsoft.nchwc';
const NCHWC_OPSET = 1;

let probed: { block: number | undefined } | undefined;

/**
 * The NCHWc block size of this process's ONNX Runtime on this CPU, or undefined when the contrib
 * ops are not there (another ONNX Runtime build): probed once per process, by the channel count
 * ReorderInput gives 4 channels (it pads them to one block).
 */
export function nchwcBlockSize(runtime: OrtRuntime): number | undefined {
  if (!probed) {
    let block: number | undefined;
    try {
      const out = runtime.run('nchwc-probe', () => {
        const gb = new GraphBuilder();
        gb.domainNode(NCHWC_DOMAIN, NCHWC_OPSET, 'ReorderInput', [gb.input('in0', [1, 4, 1, 1])], {}, 'y');
        gb.output('y', 'y', [1, 'C', 1, 1]);
        return gb.encode();
      }, [{ data: new Float32Array(4), dims: [1, 4, 1, 1] }]);
      if (out.length >= 4 && out.length % 4 === 0) block = out.length;
    } catch {
      block = undefined;
    }
    probed = { block };
  }
  return probed.block;
}

/**
 * Whether a convolution from `cin` to `cout` channels runs blocked: the contrib ops exist, the
 * environment does not turn them off (SUPERMASK_ORT_NCHWC=0), and both channel counts are
 * multiples of the block size. Channels padded up to a block were measured to cost more than the
 * blocked kernel gains (bench/nchwc-probe.mjs: 20 channels padded to 32 ran at 0.6-0.75x Conv).
 */
export function nchwcBlockFor(runtime: OrtRuntime, cin: number, cout: number): number | undefined {
  if (process.env.SUPERMASK_ORT_NCHWC === '0') return undefined;
  const block = nchwcBlockSize(runtime);
  return block !== undefined && cin % block === 0 && cout % block === 0 ? block : undefined;
}

export interface NchwcConvSpec {
  /** The block size (nchwcBlockFor). */
  block: number;
  k: number;
  cin: number;
  cout: number;
  stride: number;
  pad: number;
}

/**
 * Adds y = Conv(x, w) computed blocked: x NCHW [N, cin, h, w], `filter` in tfjs's layout
 * [k, k, cin, cout] (or, with `transposed`, [k, k, cout, cin]: the convolution then uses the
 * filter with its in and out channels swapped, as dx of a stride-1 convolution does; pass it
 * already flipped spatially), y NCHW [N, cout, oh, ow] named `outputName`.
 */
export function nchwcConv(gb: GraphBuilder, x: string, filter: string, s: NchwcConvSpec, transposed = false, outputName?: string): string {
  const { block, k, cin, cout } = s;
  // OIHWBiBo: [cout / B, cin / B, k, k, B (in), B (out)].
  const split = transposed ? [k, k, cout / block, block, cin / block, block] : [k, k, cin / block, block, cout / block, block];
  const perm = transposed ? [2, 4, 0, 1, 5, 3] : [4, 2, 0, 1, 3, 5];
  const blocks = gb.node('Transpose', [gb.node('Reshape', [filter, gb.constantInt64(split)])], { perm });
  const w = gb.node('Reshape', [blocks, gb.constantInt64([cout, cin, k, k])]);
  const xb = gb.domainNode(NCHWC_DOMAIN, NCHWC_OPSET, 'ReorderInput', [x]);
  const p = s.pad;
  const y = gb.domainNode(NCHWC_DOMAIN, NCHWC_OPSET, 'Conv', [xb, w], { kernel_shape: [k, k], strides: [s.stride, s.stride], pads: [p, p, p, p], dilations: [1, 1], group: 1 });
  return gb.domainNode(NCHWC_DOMAIN, NCHWC_OPSET, 'ReorderOutput', [y], { channels: cout }, outputName);
}
