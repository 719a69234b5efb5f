/**
 * Output arrays of the sparse units, reused once tfjs disposes the tensors holding them.
 *
 * A fresh Float32Array of a few MB costs its pages' first-touch faults (about 1 ms per 5 MB here,
 * ten times the copy into it), and a training step makes hundreds of MB of unit outputs. The
 * backend hands such arrays back here when tfjs deletes their data (`release`), and the next
 * output of the same length takes one (`take`). What keeps this safe, since tfjs's cpu backend
 * lets values escape:
 * - only the exact array objects `take` handed out are taken back, each once (`release` forgets
 *   it), so a view of one (a contiguous Slice is a subarray) is never recycled;
 * - a kernel output that is a view of a recycled array is replaced by a copy as it is made
 *   (`isViewOf`: the backend checks every output), so no tensor shares a recycled buffer except
 *   through the same dataId, which tfjs reference-counts;
 * - reading a recycled array back (dataSync / data) returns a copy (the backend's readSync), so an
 *   array a caller keeps after disposing its tensor is never overwritten.
 */
export class ArrayRecycler {
  private readonly free = new Map<number, Float32Array[]>();
  /** Pooled arrays, oldest first (evicted first when the byte budget is reached). */
  private readonly order = new Set<Float32Array>();
  /** Arrays handed out by take and not yet released. */
  private readonly handedOut = new WeakSet<Float32Array>();
  /** Buffers of every array take made. */
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  private pooled = 0;

  /** @param maxPooledBytes most bytes kept for reuse; beyond it the oldest pooled arrays are left to the garbage collector. */
  constructor(readonly maxPooledBytes = 512 * 2 ** 20) {}

  /** A Float32Array of `length` values (contents undefined: the caller overwrites all of them). */
  take(length: number): Float32Array {
    let a = this.free.get(length)?.pop();
    if (a) {
      this.order.delete(a);
      this.pooled -= a.byteLength;
    } else {
      a = new Float32Array(length);
      this.buffers.add(a.buffer);
    }
    this.handedOut.add(a);
    return a;
  }

  /** Whether `values` is an array take handed out that is not released yet. */
  owns(values: unknown): values is Float32Array {
    return values instanceof Float32Array && this.handedOut.has(values);
  }

  /** Whether `values` is another view (not the array itself) of an array take made. */
  isViewOf(values: unknown): boolean {
    return ArrayBuffer.isView(values) && this.buffers.has(values.buffer) && !(values instanceof Float32Array && this.handedOut.has(values));
  }

  /** Takes back an array take handed out (anything else, or a second release, is ignored). */
  release(values: unknown): void {
    if (!this.owns(values)) return;
    this.handedOut.delete(values);
    if (values.byteLength > this.maxPooledBytes) return;
    // Make room by dropping the oldest pooled arrays (sizes a phase no longer uses go first).
    for (const oldest of this.order) {
      if (this.pooled + values.byteLength <= this.maxPooledBytes) break;
      this.order.delete(oldest);
      const list = this.free.get(oldest.length)!;
      list.splice(list.indexOf(oldest), 1);
      this.pooled -= oldest.byteLength;
    }
    let list = this.free.get(values.length);
    if (!list) {
      list = [];
      this.free.set(values.length, list);
    }
    list.push(values);
    this.order.add(values);
    this.pooled += values.byteLength;
  }

  /** Bytes held for reuse now. */
  get pooledBytes(): number {
    return this.pooled;
  }

  /** Forgets every pooled array. */
  clear(): void {
    this.free.clear();
    this.order.clear();
    this.pooled = 0;
  }
}
