/** Binary masks stored with 1 bit per weight (LSB first within each byte). */

export function packBits(mask: Float32Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(mask.length / 8));
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) out[i >>> 3]! |= 1 << (i & 7);
  return out;
}

export function unpackBits(packed: Uint8Array, length: number, out: Float32Array = new Float32Array(length)): Float32Array {
  checkPackedLength(packed, length);
  for (let i = 0; i < length; i++) out[i] = (packed[i >>> 3]! >>> (i & 7)) & 1;
  return out;
}

/** How many of the first `length` bits of `packed` are set (the ones unpackBits would give), without unpacking. */
export function countBits(packed: Uint8Array, length: number): number {
  checkPackedLength(packed, length);
  let count = 0;
  for (let i = 0; i < length; i++) count += (packed[i >>> 3]! >>> (i & 7)) & 1;
  return count;
}

function checkPackedLength(packed: Uint8Array, length: number): void {
  if (packed.length !== Math.ceil(length / 8)) throw new Error(`a packed mask of ${length} bits needs ${Math.ceil(length / 8)} bytes, got ${packed.length}`);
}
