import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { fuzz, fuzzTargets, type FuzzCount } from './fuzz/targets.js';

// `npm test`: a few hundred inputs per parser with a fixed seed. `npm run soak` runs this file
// with SUPERMASK_FUZZ_RUNS (thousands), a fresh seed, and SUPERMASK_FUZZ_REPORT to collect the counts.
const runs = Number(process.env.SUPERMASK_FUZZ_RUNS ?? 200);
const seed = Number(process.env.SUPERMASK_FUZZ_SEED ?? 16);
const counts: FuzzCount[] = [];

describe('every parser, fuzzed: a valid value or its named error naming the file', () => {
  for (const target of fuzzTargets()) {
    it(`${target.name}: ${runs} truncated, bit-flipped, oversized-header and random inputs`, () => {
      const count = fuzz(target, runs, seed);
      counts.push(count);
      expect(count.tried).toBe(runs);
      expect(count.parsed + count.named_errors).toBe(runs);
      // The generators must reach the error paths, not only valid inputs.
      expect(count.named_errors).toBeGreaterThan(runs / 4);
    });
  }
  afterAll(() => {
    if (process.env.SUPERMASK_FUZZ_REPORT) writeFileSync(process.env.SUPERMASK_FUZZ_REPORT, JSON.stringify({ seed, runs, counts }, null, 2));
  });
});

describe('no allocation driven by a header beyond what the file holds', () => {
  it('a JPEG whose frame header claims a huge image is refused from the header, before the decoder allocates', async () => {
    const { encode } = await import('jpeg-js');
    const { decodeJpegRgb, jpegFrameSize } = await import('@supermask/datasets');
    const jpeg = new Uint8Array(encode({ data: Buffer.alloc(16 * 16 * 4, 200), width: 16, height: 16 }, 50).data);
    expect(jpegFrameSize(jpeg)).toEqual({ width: 16, height: 16 });
    const sof = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xc0);
    const huge = jpeg.slice();
    new DataView(huge.buffer).setUint16(sof + 5, 4000);
    new DataView(huge.buffer).setUint16(sof + 7, 4000);
    expect(jpegFrameSize(huge)).toEqual({ width: 4000, height: 4000 });
    expect(() => decodeJpegRgb(huge, '/data/x.JPEG', { width: 16, height: 16 })).toThrow('/data/x.JPEG: JPEG image is 4000x4000; expected 16x16 (size read from its frame header, not decoded)');
  });
});
