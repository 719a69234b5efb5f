// Sparse (mask-aware) convolution + batch-norm unit kernels (see src/sparse-conv.ts for the layouts).
// Freestanding: no libc, no local arrays, no address-taken locals (no linear-memory stack).
//
// Plane layout ("row-interleaved chunks"): images in chunks of B; a buffer holds C planes per chunk, each P floats
// (chunk c at c * C * P, its plane i at + i * P); a plane's row r (width Wc = B * Wq) holds the rows r of the chunk's
// images side by side: image j = n % B at columns [j * Wq, (j + 1) * Wq). A flat correlation over a plane (flat
// index t = r * Wc + column) thus covers the chunk's images in one sweep, small maps included.
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(name)))

static inline float hsum(v128_t a) {
  return (wasm_f32x4_extract_lane(a, 0) + wasm_f32x4_extract_lane(a, 1)) + (wasm_f32x4_extract_lane(a, 2) + wasm_f32x4_extract_lane(a, 3));
}

// ---------------------------------------------------------------------------------------------------------
// Padding and phase split: x dense [N][C][H][W] -> xp (C * s * s planes per chunk), phase (a, b) of channel c is
// plane c * s * s + a * s + b: image j's xp[r][q] = x[s r + a - p][s q + b - p] (0 outside), r < Hq, q < Wq;
// zeros for the chunk's missing images and from Hq * Wc to P. Phases no tap of a k x k filter reads (a or b >= k)
// are left unwritten. Items: chunks.
static void sp_pad(const float* x, float* xp, int N, int C, int H, int W, int p, int s, int k, int Hq, int Wq, int P, int B, int c0, int c1) {
  int S2 = s * s, Wc = B * Wq;
  for (int ch = c0; ch < c1; ch++) {
    int nb = N - ch * B;
    if (nb > B) nb = B;
    for (int c = 0; c < C; c++) {
      for (int a = 0; a < s && a < k; a++) {
        int r_lo = p - a > 0 ? (p - a + s - 1) / s : 0;
        int rt = H - 1 + p - a;
        int r_hi = rt < 0 ? 0 : rt / s + 1;
        if (r_hi > Hq) r_hi = Hq;
        if (r_lo > r_hi) r_lo = r_hi;
        for (int b = 0; b < s && b < k; b++) {
          float* d = xp + (ch * C * S2 + c * S2 + a * s + b) * P;
          int q_lo = p - b > 0 ? (p - b + s - 1) / s : 0;
          int qt = W - 1 + p - b;
          int q_hi = qt < 0 ? 0 : qt / s + 1;
          if (q_hi > Wq) q_hi = Wq;
          if (q_lo > q_hi) q_lo = q_hi;
          for (int t = 0; t < r_lo * Wc; t++) d[t] = 0.0f;
          for (int r = r_lo; r < r_hi; r++) {
            for (int j = 0; j < B; j++) {
              float* dr = d + r * Wc + j * Wq;
              if (j >= nb) {
                for (int q = 0; q < Wq; q++) dr[q] = 0.0f;
                continue;
              }
              const float* xr = x + ((ch * B + j) * C + c) * H * W + (s * r + a - p) * W + b - p;  // xr[s q]
              for (int q = 0; q < q_lo; q++) dr[q] = 0.0f;
              if (s == 1) {
                int q = q_lo;
                for (; q + 4 <= q_hi; q += 4) wasm_v128_store(dr + q, wasm_v128_load(xr + q));
                for (; q < q_hi; q++) dr[q] = xr[q];
              } else if (s == 2) {
                int q = q_lo;
                for (; q + 4 <= q_hi && 2 * q + 7 + b - p <= W - 1; q += 4) {
                  v128_t v0 = wasm_v128_load(xr + 2 * q), v1 = wasm_v128_load(xr + 2 * q + 4);
                  wasm_v128_store(dr + q, wasm_i32x4_shuffle(v0, v1, 0, 2, 4, 6));
                }
                for (; q < q_hi; q++) dr[q] = xr[2 * q];
              } else {
                for (int q = q_lo; q < q_hi; q++) dr[q] = xr[s * q];
              }
              for (int q = q_hi; q < Wq; q++) dr[q] = 0.0f;
            }
          }
          for (int t = r_hi * Wc; t < P; t++) d[t] = 0.0f;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Flat sparse correlation over chunks: for every chunk c in [c0, c1) and destination plane o,
//   dst[o][t] = sum_{j in start[o] .. start[o+1]} val[j] * src[idx[j] + t],  t in [T0, L) (its length rounded up to 4),
// relative to the chunk's base in both buffers (src: Cs planes of stride Ps, dst: Cd planes of stride Pd).
// idx[j] = source plane * Ps + offset. Every output element sums its entries in list order, whatever the blocking
// and the split: bit-equal results over any split.
#define ACC8_STEP(b, w)                                                   \
  a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(w, wasm_v128_load(b)));          \
  a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(w, wasm_v128_load(b + 4)));      \
  a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(w, wasm_v128_load(b + 8)));      \
  a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(w, wasm_v128_load(b + 12)));     \
  a4 = wasm_f32x4_add(a4, wasm_f32x4_mul(w, wasm_v128_load(b + 16)));     \
  a5 = wasm_f32x4_add(a5, wasm_f32x4_mul(w, wasm_v128_load(b + 20)));     \
  a6 = wasm_f32x4_add(a6, wasm_f32x4_mul(w, wasm_v128_load(b + 24)));     \
  a7 = wasm_f32x4_add(a7, wasm_f32x4_mul(w, wasm_v128_load(b + 28)));

EXPORT("sp_conv")
void sp_conv(const float* src, float* dst, int Cs, int Ps, int Cd, int Pd, int T0, int L,
             const int* start, const int* idx, const float* val, int c0, int c1) {
  int tend = T0 + ((L - T0 + 3) & ~3);
  for (int c = c0; c < c1; c++) {
    const float* sc = src + c * Cs * Ps;
    float* dc = dst + c * Cd * Pd;
    for (int o = 0; o < Cd; o++) {
      float* y = dc + o * Pd;
      int s = start[o], e = start[o + 1];
      int t = T0;
      for (; t + 32 <= tend; t += 32) {
        v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        const float* st = sc + t;
        for (int j = s; j < e; j++) {
          const float* b = st + idx[j];
          v128_t w = wasm_f32x4_splat(val[j]);
          ACC8_STEP(b, w)
        }
        wasm_v128_store(y + t, a0); wasm_v128_store(y + t + 4, a1); wasm_v128_store(y + t + 8, a2); wasm_v128_store(y + t + 12, a3);
        wasm_v128_store(y + t + 16, a4); wasm_v128_store(y + t + 20, a5); wasm_v128_store(y + t + 24, a6); wasm_v128_store(y + t + 28, a7);
      }
      for (; t < tend; t += 16) {
        // 16 outputs; the last block stores 1 to 4 vectors (its loads past tend stay in the planes' slack).
        int rest = (tend - t) >> 2;
        v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
        const float* st = sc + t;
        for (int j = s; j < e; j++) {
          const float* b = st + idx[j];
          v128_t w = wasm_f32x4_splat(val[j]);
          a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(w, wasm_v128_load(b)));
          a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(w, wasm_v128_load(b + 4)));
          a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(w, wasm_v128_load(b + 8)));
          a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(w, wasm_v128_load(b + 12)));
        }
        wasm_v128_store(y + t, a0);
        if (rest > 1) wasm_v128_store(y + t + 4, a1);
        if (rest > 2) wasm_v128_store(y + t + 8, a2);
        if (rest > 3) wasm_v128_store(y + t + 12, a3);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Batch-norm statistics of the flat conv output (C planes of stride P, chunks of B, image width Wq, OH x OW valid):
// part[(n C + o) * 2 + {0, 1}] = float64 sum of c and of c^2 over image n, channel o. Items: images.
static void sp_bn_stats(const float* out, double* part, int C, int P, int B, int OH, int OW, int Wq, int n0, int n1) {
  int Wf = B * Wq;
  for (int n = n0; n < n1; n++) {
    int org = (n / B) * C * P + (n % B) * Wq;
    for (int o = 0; o < C; o++) {
      const float* r = out + org + o * P;
      v128_t s0 = wasm_f64x2_splat(0.0), s1 = s0, q0 = s0, q1 = s0;
      double st = 0.0, qt = 0.0;
      for (int oh = 0; oh < OH; oh++) {
        const float* row = r + oh * Wf;
        int ow = 0;
        for (; ow + 4 <= OW; ow += 4) {
          v128_t v = wasm_v128_load(row + ow);
          v128_t lo = wasm_f64x2_promote_low_f32x4(v);
          v128_t hi = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
          s0 = wasm_f64x2_add(s0, lo);
          s1 = wasm_f64x2_add(s1, hi);
          q0 = wasm_f64x2_add(q0, wasm_f64x2_mul(lo, lo));
          q1 = wasm_f64x2_add(q1, wasm_f64x2_mul(hi, hi));
        }
        for (; ow < OW; ow++) {
          double v = row[ow];
          st += v;
          qt += v * v;
        }
      }
      v128_t s = wasm_f64x2_add(s0, s1), q = wasm_f64x2_add(q0, q1);
      part[(n * C + o) * 2] = wasm_f64x2_extract_lane(s, 0) + wasm_f64x2_extract_lane(s, 1) + st;
      part[(n * C + o) * 2 + 1] = wasm_f64x2_extract_lane(q, 0) + wasm_f64x2_extract_lane(q, 1) + qt;
    }
  }
}

// Batch-norm apply: xhat = (c - mean) * invstd, h = xhat (+ skip), y = relu(h) or h; y, xhat, skip dense
// [N][C][OH][OW] (skip 0: none). Items: images.
EXPORT("sp_bn_apply")
void sp_bn_apply(const float* out, const float* skip, float* y, float* xhat, const float* mean, const float* invstd,
                 int C, int P, int B, int OH, int OW, int Wq, int relu, int n0, int n1) {
  v128_t zero = wasm_f32x4_splat(0.0f);
  int Wf = B * Wq;
  for (int n = n0; n < n1; n++) {
    int org = (n / B) * C * P + (n % B) * Wq;
    for (int o = 0; o < C; o++) {
      const float* r = out + org + o * P;
      int d = (n * C + o) * OH * OW;
      float m = mean[o], is = invstd[o];
      v128_t mv = wasm_f32x4_splat(m), iv = wasm_f32x4_splat(is);
      for (int oh = 0; oh < OH; oh++) {
        const float* row = r + oh * Wf;
        float* yr = y + d + oh * OW;
        float* xr = xhat + d + oh * OW;
        const float* sr = skip ? skip + d + oh * OW : 0;
        int ow = 0;
        for (; ow + 4 <= OW; ow += 4) {
          v128_t xh = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(row + ow), mv), iv);
          wasm_v128_store(xr + ow, xh);
          v128_t h = sr ? wasm_f32x4_add(xh, wasm_v128_load(sr + ow)) : xh;
          if (relu) h = wasm_f32x4_pmax(zero, h);
          wasm_v128_store(yr + ow, h);
        }
        for (; ow < OW; ow++) {
          float xh = (row[ow] - m) * is;
          xr[ow] = xh;
          float h = sr ? xh + sr[ow] : xh;
          if (relu && !(h > 0.0f)) h = 0.0f;
          yr[ow] = h;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Backward batch-norm reductions (dense [N][C][HW]): g = dy * [y > 0] (relu) or dy;
// part[(n C + o) * 2 + {0, 1}] = float64 sums of g and of g * xhat. Items: images.
EXPORT("sp_bn_back_reduce")
void sp_bn_back_reduce(const float* dy, const float* y, const float* xhat, double* part, int C, int HW, int relu, int n0, int n1) {
  v128_t zero = wasm_f32x4_splat(0.0f);
  for (int n = n0; n < n1; n++) {
    for (int o = 0; o < C; o++) {
      int b = (n * C + o) * HW;
      v128_t s0 = wasm_f64x2_splat(0.0), s1 = s0, q0 = s0, q1 = s0;
      double st = 0.0, qt = 0.0;
      int t = 0;
      for (; t + 4 <= HW; t += 4) {
        v128_t g = wasm_v128_load(dy + b + t);
        if (relu) g = wasm_v128_and(g, wasm_f32x4_gt(wasm_v128_load(y + b + t), zero));
        v128_t gx = wasm_f32x4_mul(g, wasm_v128_load(xhat + b + t));
        s0 = wasm_f64x2_add(s0, wasm_f64x2_promote_low_f32x4(g));
        s1 = wasm_f64x2_add(s1, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(g, g, 2, 3, 0, 1)));
        q0 = wasm_f64x2_add(q0, wasm_f64x2_promote_low_f32x4(gx));
        q1 = wasm_f64x2_add(q1, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(gx, gx, 2, 3, 0, 1)));
      }
      for (; t < HW; t++) {
        float g = dy[b + t];
        if (relu && !(y[b + t] > 0.0f)) g = 0.0f;
        st += g;
        qt += (double)(g * xhat[b + t]);
      }
      v128_t s = wasm_f64x2_add(s0, s1), q = wasm_f64x2_add(q0, q1);
      part[(n * C + o) * 2] = wasm_f64x2_extract_lane(s, 0) + wasm_f64x2_extract_lane(s, 1) + st;
      part[(n * C + o) * 2 + 1] = wasm_f64x2_extract_lane(q, 0) + wasm_f64x2_extract_lane(q, 1) + qt;
    }
  }
}

// dc from dy: batch: dc = (g - mg - xhat * mgx) * invstd; running: dc = g * invstd. Written (each when its
// pointer is not 0) as flat planes dcp (C planes of stride P per chunk of B images, image width Wq, F zeros in front,
// zero garbage columns, zero columns for the chunk's missing images, zeros up to P), dense dcd [N][C][OH][OW] and
// dskip = g dense. Items: chunks.
static void sp_bn_back_dc(const float* dy, const float* y, const float* xhat, const float* invstd, const float* mg, const float* mgx,
                   float* dcp, float* dcd, float* dskip, int N, int C, int OH, int OW, int Wq, int F, int P, int B,
                   int relu, int batch, int c0, int c1) {
  v128_t zero = wasm_f32x4_splat(0.0f);
  int HW = OH * OW, Wc = B * Wq;
  for (int ch = c0; ch < c1; ch++) {
    int nb = N - ch * B;
    if (nb > B) nb = B;
    for (int o = 0; o < C; o++) {
      float is = invstd[o], m1 = batch ? mg[o] : 0.0f, m2 = batch ? mgx[o] : 0.0f;
      v128_t iv = wasm_f32x4_splat(is), m1v = wasm_f32x4_splat(m1), m2v = wasm_f32x4_splat(m2);
      float* d = dcp ? dcp + (ch * C + o) * P : 0;
      if (d) {
        for (int t = 0; t < F; t++) d[t] = 0.0f;
        d += F;
        for (int t = OH * Wc; t < P - F; t++) d[t] = 0.0f;
      }
      for (int j = 0; j < B; j++) {
        if (j >= nb) {
          if (d) for (int oh = 0; oh < OH; oh++) for (int q = 0; q < Wq; q++) d[oh * Wc + j * Wq + q] = 0.0f;
          continue;
        }
        int b = ((ch * B + j) * C + o) * HW;
        for (int oh = 0; oh < OH; oh++) {
          int rb = b + oh * OW;
          float* dr = d ? d + oh * Wc + j * Wq : 0;
          int ow = 0;
          for (; ow + 4 <= OW; ow += 4) {
            v128_t g = wasm_v128_load(dy + rb + ow);
            if (relu) g = wasm_v128_and(g, wasm_f32x4_gt(wasm_v128_load(y + rb + ow), zero));
            if (dskip) wasm_v128_store(dskip + rb + ow, g);
            v128_t v;
            if (batch) v = wasm_f32x4_mul(wasm_f32x4_sub(wasm_f32x4_sub(g, m1v), wasm_f32x4_mul(wasm_v128_load(xhat + rb + ow), m2v)), iv);
            else v = wasm_f32x4_mul(g, iv);
            if (dr) wasm_v128_store(dr + ow, v);
            if (dcd) wasm_v128_store(dcd + rb + ow, v);
          }
          for (; ow < OW; ow++) {
            float g = dy[rb + ow];
            if (relu && !(y[rb + ow] > 0.0f)) g = 0.0f;
            if (dskip) dskip[rb + ow] = g;
            float v = batch ? ((g - m1) - xhat[rb + ow] * m2) * is : g * is;
            if (dr) dr[ow] = v;
            if (dcd) dcd[rb + ow] = v;
          }
          if (dr) for (; ow < Wq; ow++) dr[ow] = 0.0f;
        }
      }
    }
  }
}

// dx phase planes (C * s * s planes of stride P per chunk of B images, image width Wq) -> dense dx [N][C][H][W]:
// dx[h][w] = phase ((h + p) % s, (w + p) % s) at ((h + p) / s, (w + p) / s). Items: images.
static void sp_dx_crop(const float* ph, float* dx, int C, int H, int W, int p, int s, int Wq, int P, int B, int n0, int n1) {
  int S2 = s * s, Wc = B * Wq;
  for (int n = n0; n < n1; n++) {
    int org = (n / B) * C * S2 * P + (n % B) * Wq;
    for (int c = 0; c < C; c++) {
      float* d = dx + (n * C + c) * H * W;
      for (int h = 0; h < H; h++) {
        int a = (h + p) % s, r = (h + p) / s;
        float* dr = d + h * W;
        if (s == 1) {
          const float* sr = ph + org + c * P + r * Wc + p;
          for (int w = 0; w < W; w++) dr[w] = sr[w];
        } else if (s == 2) {
          // dx[2j] = phase (p & 1) at j + (p >> 1), dx[2j + 1] = phase ((p + 1) & 1) at j + ((p + 1) >> 1).
          const float* ea = ph + org + (c * 4 + a * 2 + (p & 1)) * P + r * Wc + (p >> 1);
          const float* eb = ph + org + (c * 4 + a * 2 + ((p + 1) & 1)) * P + r * Wc + ((p + 1) >> 1);
          int j = 0;
          for (; 2 * j + 8 <= W; j += 4) {
            v128_t va = wasm_v128_load(ea + j), vb = wasm_v128_load(eb + j);
            wasm_v128_store(dr + 2 * j, wasm_i32x4_shuffle(va, vb, 0, 4, 1, 5));
            wasm_v128_store(dr + 2 * j + 4, wasm_i32x4_shuffle(va, vb, 2, 6, 3, 7));
          }
          for (; 2 * j < W; j++) {
            dr[2 * j] = ea[j];
            if (2 * j + 1 < W) dr[2 * j + 1] = eb[j];
          }
        } else {
          for (int b = 0; b < s; b++) {
            const float* sr = ph + org + (c * S2 + a * s + b) * P + r * Wc;
            int w = ((b - p) % s + s) % s;  // first w with (w + p) % s == b
            for (; w < W; w += s) dr[w] = sr[(w + p) / s];
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// dW at a support: for every entry e and chunk ch, part[ch * nent + e] = the float32 dot product over the chunk's
// planes sum_{t < L} dcp[eo[e] + t] * xp[ex[e] + t] (eo = o * Pd + F: dc' planes with zero garbage columns, ex =
// plane * Px + offset, both relative to the chunk). Items: chunks (fixed by the shape, so the split does not change
// the sums). L is a multiple of 4. Entries come sorted by output channel: runs of four share their dc' loads.
static void sp_dw(const float* xp, const float* dcp, int Cx, int Px, int Cd, int Pd, int L,
           int nent, const int* eo, const int* ex, double* part, int c0, int c1) {
  for (int ch = c0; ch < c1; ch++) {
    double* pr = part + ch * nent;
    const float* xn = xp + ch * Cx * Px;
    const float* dn = dcp + ch * Cd * Pd;
    int e = 0;
    while (e < nent) {
      if (e + 4 <= nent && eo[e + 3] == eo[e]) {
        const float* d = dn + eo[e];
        const float* x0 = xn + ex[e];
        const float* x1 = xn + ex[e + 1];
        const float* x2 = xn + ex[e + 2];
        const float* x3 = xn + ex[e + 3];
        v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int t = 0;
        for (; t + 8 <= L; t += 8) {
          v128_t u = wasm_v128_load(d + t), v = wasm_v128_load(d + t + 4);
          a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(u, wasm_v128_load(x0 + t)));
          a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(u, wasm_v128_load(x1 + t)));
          a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(u, wasm_v128_load(x2 + t)));
          a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(u, wasm_v128_load(x3 + t)));
          b0 = wasm_f32x4_add(b0, wasm_f32x4_mul(v, wasm_v128_load(x0 + t + 4)));
          b1 = wasm_f32x4_add(b1, wasm_f32x4_mul(v, wasm_v128_load(x1 + t + 4)));
          b2 = wasm_f32x4_add(b2, wasm_f32x4_mul(v, wasm_v128_load(x2 + t + 4)));
          b3 = wasm_f32x4_add(b3, wasm_f32x4_mul(v, wasm_v128_load(x3 + t + 4)));
        }
        if (t < L) {
          v128_t u = wasm_v128_load(d + t);
          a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(u, wasm_v128_load(x0 + t)));
          a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(u, wasm_v128_load(x1 + t)));
          a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(u, wasm_v128_load(x2 + t)));
          a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(u, wasm_v128_load(x3 + t)));
        }
        pr[e] = (double)hsum(wasm_f32x4_add(a0, b0));
        pr[e + 1] = (double)hsum(wasm_f32x4_add(a1, b1));
        pr[e + 2] = (double)hsum(wasm_f32x4_add(a2, b2));
        pr[e + 3] = (double)hsum(wasm_f32x4_add(a3, b3));
        e += 4;
        continue;
      }
      const float* d = dn + eo[e];
      const float* x0 = xn + ex[e];
      v128_t a0 = wasm_f32x4_splat(0.0f), b0 = a0;
      int t = 0;
      for (; t + 8 <= L; t += 8) {
        a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wasm_v128_load(d + t), wasm_v128_load(x0 + t)));
        b0 = wasm_f32x4_add(b0, wasm_f32x4_mul(wasm_v128_load(d + t + 4), wasm_v128_load(x0 + t + 4)));
      }
      if (t < L) a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wasm_v128_load(d + t), wasm_v128_load(x0 + t)));
      pr[e] = (double)hsum(wasm_f32x4_add(a0, b0));
      e++;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Entry lists from the nonzeros of a (a [k][k][Cin][Cout] array, tfjs filter layout), scanned in (i, kh, kw, o)
// order and bucketed (counting sort, stable):
//   kind 0 (forward): bucket o, idx = plane * Px + offset, val = a;
//   kind 1 (dx):      bucket plane (i * s * s + (kh % s) * s + kw % s), idx = o * Pd + F - offset, val = a;
//   kind 2 (dW):      bucket o, idx = plane * Px + offset, idx2 = o * Pd + F, support = index in a;
// with offset = (kh / s) * Wc + kw / s. start gets buckets + 1 counts (zero-filled by the caller). Returns the count.
EXPORT("sp_entries")
int sp_entries(const float* a, int k, int Cin, int Cout, int s, int Wc, int Px, int Pd, int F, int kind,
               int* start, int* idx, float* val, int* idx2, int* support) {
  int S2 = s * s;
  int buckets = kind == 1 ? Cin * S2 : Cout;
  for (int i = 0; i < Cin; i++)
    for (int kh = 0; kh < k; kh++)
      for (int kw = 0; kw < k; kw++) {
        const float* row = a + ((kh * k + kw) * Cin + i) * Cout;
        if (kind == 1) {
          int b = i * S2 + (kh % s) * s + kw % s, c = 0;
          for (int o = 0; o < Cout; o++) c += row[o] != 0.0f;
          start[b + 1] += c;
        } else {
          for (int o = 0; o < Cout; o++) start[o + 1] += row[o] != 0.0f;
        }
      }
  for (int b = 0; b < buckets; b++) start[b + 1] += start[b];
  // Fill: start[b] is used as the cursor of bucket b, then shifted back.
  for (int i = 0; i < Cin; i++)
    for (int kh = 0; kh < k; kh++)
      for (int kw = 0; kw < k; kw++) {
        int q0 = ((kh * k + kw) * Cin + i) * Cout;
        const float* row = a + q0;
        int plane = i * S2 + (kh % s) * s + kw % s;
        int off = (kh / s) * Wc + kw / s;
        for (int o = 0; o < Cout; o++) {
          float v = row[o];
          if (v == 0.0f) continue;
          if (kind == 0) {
            int j = start[o]++;
            idx[j] = plane * Px + off;
            val[j] = v;
          } else if (kind == 1) {
            int j = start[plane]++;
            idx[j] = o * Pd + F - off;
            val[j] = v;
          } else {
            int j = start[o]++;
            idx[j] = plane * Px + off;
            idx2[j] = o * Pd + F;
            support[j] = q0 + o;
          }
        }
      }
  for (int b = buckets; b > 0; b--) start[b] = start[b - 1];
  start[0] = 0;
  return start[buckets];
}

// The forward (kind 0) and dx (kind 1) lists of sp_entries from one scan of a: start/idx/val get kind 0's,
// start2/idx2/val2 kind 1's (both zero-filled by the caller). Returns the count (the same for both).
EXPORT("sp_entries_fd")
int sp_entries_fd(const float* a, int k, int Cin, int Cout, int s, int Wc, int Px, int Pd, int F,
                  int* start, int* idx, float* val, int* start2, int* idx2, float* val2) {
  int S2 = s * s;
  for (int i = 0; i < Cin; i++)
    for (int kh = 0; kh < k; kh++)
      for (int kw = 0; kw < k; kw++) {
        const float* row = a + ((kh * k + kw) * Cin + i) * Cout;
        int c = 0;
        for (int o = 0; o < Cout; o++) {
          int nz = row[o] != 0.0f;
          start[o + 1] += nz;
          c += nz;
        }
        start2[i * S2 + (kh % s) * s + kw % s + 1] += c;
      }
  for (int b = 0; b < Cout; b++) start[b + 1] += start[b];
  for (int b = 0; b < Cin * S2; b++) start2[b + 1] += start2[b];
  for (int i = 0; i < Cin; i++)
    for (int kh = 0; kh < k; kh++)
      for (int kw = 0; kw < k; kw++) {
        const float* row = a + ((kh * k + kw) * Cin + i) * Cout;
        int plane = i * S2 + (kh % s) * s + kw % s;
        int off = (kh / s) * Wc + kw / s;
        for (int o = 0; o < Cout; o++) {
          float v = row[o];
          if (v == 0.0f) continue;
          int j = start[o]++;
          idx[j] = plane * Px + off;
          val[j] = v;
          int j2 = start2[plane]++;
          idx2[j2] = o * Pd + F - off;
          val2[j2] = v;
        }
      }
  for (int b = Cout; b > 0; b--) start[b] = start[b - 1];
  start[0] = 0;
  for (int b = Cin * S2; b > 0; b--) start2[b] = start2[b - 1];
  start2[0] = 0;
  return start[Cout];
}

// ---------------------------------------------------------------------------------------------------------
// Fused passes: one pool run does every stage of a chunk of images before the next chunk, so the chunk's data is
// still in cache from one stage to the next and a unit call wakes the workers fewer times. Items: chunks; every
// stage writes only what the chunk owns (per-image or per-chunk partials), so results do not depend on the split.

// Forward: pad + phase-split the chunk's images (sp_pad), its sparse conv (sp_conv over t in [0, L)) and, when part
// is not 0, its images' float64 batch-norm partials (sp_bn_stats).
EXPORT("sp_fwd")
void sp_fwd(const float* x, float* xp, int N, int Cin, int H, int W, int p, int s, int k, int Hq, int Wq, int Px, int B,
            float* out, int Cout, int Po, int L, const int* start, const int* idx, const float* val,
            double* part, int OH, int OW, int c0, int c1) {
  for (int ch = c0; ch < c1; ch++) {
    sp_pad(x, xp, N, Cin, H, W, p, s, k, Hq, Wq, Px, B, ch, ch + 1);
    sp_conv(xp, out, Cin * s * s, Px, Cout, Po, 0, L, start, idx, val, ch, ch + 1);
    if (part) {
      int n1 = (ch + 1) * B;
      sp_bn_stats(out, part, Cout, Po, B, OH, OW, Wq, ch * B, n1 < N ? n1 : N);
    }
  }
}

// Backward after the reductions: the chunk's dc (sp_bn_back_dc: dc' planes, and dense dc / dskip when their pointers
// are not 0), the dx correlation into its phase planes (sp_conv over t in [T0, T1)) and their crop to dense dx
// (sp_dx_crop); when part is not 0, also the pad of its x (sp_pad into xp) and its dW partials at the support
// (sp_dw: part[ch * nent + e]).
EXPORT("sp_bwd")
void sp_bwd(const float* dy, const float* y, const float* xhat, const float* invstd, const float* mg, const float* mgx,
            float* dcp, float* dcd, float* dskip, int N, int Cout, int OH, int OW, int Wq, int F, int Pd, int B, int relu, int batch,
            float* dxp, float* dx, int Cin, int H, int W, int p, int s, int Pdx, int T0, int T1,
            const int* start, const int* idx, const float* val,
            const float* x, float* xp, int k, int Hq, int Px, int Ldw, int nent, const int* eo, const int* ex, double* part,
            int c0, int c1) {
  for (int ch = c0; ch < c1; ch++) {
    int n1 = (ch + 1) * B;
    if (n1 > N) n1 = N;
    sp_bn_back_dc(dy, y, xhat, invstd, mg, mgx, dcp, dcd, dskip, N, Cout, OH, OW, Wq, F, Pd, B, relu, batch, ch, ch + 1);
    sp_conv(dcp, dxp, Cout, Pd, Cin * s * s, Pdx, T0, T1, start, idx, val, ch, ch + 1);
    sp_dx_crop(dxp, dx, Cin, H, W, p, s, Wq, Pdx, B, ch * B, n1);
    if (part) {
      sp_pad(x, xp, N, Cin, H, W, p, s, k, Hq, Wq, Px, B, ch, ch + 1);
      sp_dw(xp, dcp, Cin * s * s, Px, Cout, Pd, Ldw, nent, eo, ex, part, ch, ch + 1);
    }
  }
}
