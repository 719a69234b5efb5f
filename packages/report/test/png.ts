import { readFileSync, statSync } from 'node:fs';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Width and height of a PNG file, after checking its signature and its IHDR chunk; throws if it is not a PNG. */
export function pngSize(file: string): { width: number; height: number; bytes: number } {
  const bytes = statSync(file).size;
  const b = readFileSync(file);
  if (b.length < 33) throw new Error(`${file}: ${b.length} bytes, too short for a PNG`);
  SIGNATURE.forEach((v, i) => {
    if (b[i] !== v) throw new Error(`${file}: not a PNG (bad signature)`);
  });
  if (b.readUInt32BE(8) !== 13 || b.toString('latin1', 12, 16) !== 'IHDR') throw new Error(`${file}: not a PNG (no IHDR chunk first)`);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20), bytes };
}
