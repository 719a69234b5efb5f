/*
 * Self-test kernels of the WebAssembly thread pool (src/wasm-pool.ts), used by its tests.
 * Every kernel called by `pool.run` takes its arguments, then the item range [n0, n1).
 */
#include <stdint.h>

/* Static data: checks that every thread's instance sees the data segments (initialised once). */
static const float POOL_CHECK_TABLE[4] = {0.5f, 1.5f, 2.5f, 3.5f};

/* dst[i] = value + table[i & 3] for the items i in [n0, n1) (dst: byte offset of float32s). */
__attribute__((export_name("pool_fill"))) void pool_fill(float *dst, float value, int n0, int n1) {
  for (int i = n0; i < n1; i++) dst[i] = value + POOL_CHECK_TABLE[i & 3];
}

/* partials[i] = sum over j < len of src[i * len + j]^2 (float64), for the items i in [n0, n1). */
__attribute__((export_name("pool_sum_sq"))) void pool_sum_sq(const float *src, int len, double *partials, int n0, int n1) {
  for (int i = n0; i < n1; i++) {
    double s = 0.0;
    const float *row = src + (intptr_t)i * len;
    for (int j = 0; j < len; j++) s += (double)row[j] * (double)row[j];
    partials[i] = s;
  }
}

/* counts[i] += 1 for every item i in [n0, n1) (int32s): checks that the ranges cover the items exactly once. */
__attribute__((export_name("pool_mark"))) void pool_mark(int32_t *counts, int n0, int n1) {
  for (int i = n0; i < n1; i++) counts[i] += 1;
}

/* Traps (unreachable) when an item of the range equals `bad`, else does nothing. */
__attribute__((export_name("pool_trap_at"))) void pool_trap_at(int bad, int n0, int n1) {
  if (bad >= n0 && bad < n1) __builtin_trap();
}

/* Does nothing: measures the pool's own latency. */
__attribute__((export_name("pool_noop"))) void pool_noop(int n0, int n1) {
  (void)n0;
  (void)n1;
}

/* out[i] = address of a local array on the linear-memory stack, for the items i in [n0, n1): checks that every
 * thread's instance has its own stack region (the volatile array forces a stack frame). */
__attribute__((export_name("pool_stack_probe"))) void pool_stack_probe(int32_t *out, int n0, int n1) {
  volatile int32_t local[4];
  for (int i = n0; i < n1; i++) {
    local[i & 3] = i;
    out[i] = (int32_t)(intptr_t)&local[0] + local[i & 3] - i;
  }
}
