import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';

/**
 * TensorBoard event files (`events.out.tfevents.*`), as TensorBoard and tf.summary read them:
 * a sequence of TFRecords, each `uint64 length | uint32 masked CRC32C(length) | Event protobuf |
 * uint32 masked CRC32C(data)`, all little-endian; the first Event names the file version, the
 * others carry scalar summaries.
 */

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli), the checksum of TFRecord files. */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC32C_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The masked CRC of TFRecord: rotate right by 15 bits, add 0xa282ead8. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

// The fields of tensorflow/core/util/event.proto and framework/summary.proto that scalars use.
const root = protobuf.Root.fromJSON({
  nested: {
    Event: {
      fields: {
        wallTime: { type: 'double', id: 1 },
        step: { type: 'int64', id: 2 },
        fileVersion: { type: 'string', id: 3 },
        summary: { type: 'Summary', id: 5 },
      },
    },
    Summary: { fields: { value: { rule: 'repeated', type: 'SummaryValue', id: 1 } } },
    SummaryValue: { fields: { tag: { type: 'string', id: 1 }, simpleValue: { type: 'float', id: 2 } } },
  },
});
const EventProto = root.lookupType('Event');

/** One TFRecord around `data`. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/**
 * Appends scalar summaries to a TensorBoard event file in `logDir` (created), one record per
 * call, written through at once so TensorBoard sees a run as it goes.
 */
export class TensorBoardWriter {
  readonly file: string;
  private fd: number | undefined;

  constructor(logDir: string, now: Date = new Date()) {
    mkdirSync(logDir, { recursive: true });
    this.file = join(logDir, `events.out.tfevents.${Math.floor(now.getTime() / 1000)}.${hostname()}`);
    this.fd = openSync(this.file, 'a');
    this.write({ wallTime: now.getTime() / 1000, fileVersion: 'brain.Event:2' });
  }

  /** Records `value` under `tag` (e.g. `task1/mask/loss`) at `step`. */
  scalar(tag: string, value: number, step: number, wallTime = Date.now() / 1000): void {
    this.write({ wallTime, step, summary: { value: [{ tag, simpleValue: value }] } });
  }

  private write(event: Record<string, unknown>): void {
    if (this.fd === undefined) throw new Error(`${this.file}: the TensorBoard writer is closed`);
    const bytes = EventProto.encode(EventProto.fromObject(event)).finish();
    writeSync(this.fd, tfRecord(bytes));
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
