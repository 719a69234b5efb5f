// Layouts for the dense filter gradient of a conv unit as ONNX Runtime Gemms (see src/dense-dw.ts).
// Freestanding: no libc, no local arrays, no address-taken locals (no linear-memory stack).
//
// "Tap rows": a stride-s convolution's padded input is split into s * s phase planes of Hq x Wq (phase (a, b):
// xpad[s r + a][s q + b]); all N images of a phase plane of channel c are one row of S floats (image n at
// n * Hq * Wq, then S - N * Hq * Wq zeros), rows in order (phase, channel). A filter tap (kh, kw) reads phase
// (kh % s, kw % s) at the flat offset (kh / s) * Wq + kw / s, so its im2col matrix is the rows of that phase
// shifted by the offset: a contiguous window of the buffer, which the caller hands to ONNX Runtime as it is.
#define EXPORT(name) __attribute__((export_name(name)))

// x dense [N][C][H][W] -> X: row (a * s + b) * C + c = phase (a, b) of channel c, for the phases a, b < min(s, k).
// Items: images; the thread whose range ends at N also zeroes the rows' tails [N * Hq * Wq, S).
EXPORT("dw_layout_x")
void dw_layout_x(const float* x, float* X, int N, int C, int H, int W, int p, int s, int k, int Hq, int Wq, int S, int n0, int n1) {
  int phases = s < k ? s : k;
  for (int a = 0; a < phases; a++) {
    for (int b = 0; b < phases; b++) {
      // Columns q whose source u = s q + b - p lies in [0, W): [q_lo, q_hi), the same for every row.
      int q_lo = p - b > 0 ? (p - b + s - 1) / s : 0;
      int q_hi = W - 1 + p - b < 0 ? 0 : (W - 1 + p - b) / s + 1;
      if (q_hi > Wq) q_hi = Wq;
      if (q_lo > q_hi) q_lo = q_hi;
      for (int c = 0; c < C; c++) {
        float* row = X + ((a * s + b) * C + c) * S;
        for (int n = n0; n < n1; n++) {
          const float* xc = x + (n * C + c) * H * W;
          float* d = row + n * Hq * Wq;
          for (int r = 0; r < Hq; r++) {
            int y = s * r + a - p;
            float* dr = d + r * Wq;
            if (y < 0 || y >= H) {
              for (int q = 0; q < Wq; q++) dr[q] = 0.0f;
              continue;
            }
            const float* xr = xc + y * W + b - p;  // xr[s q] = x[y][s q + b - p]
            for (int q = 0; q < q_lo; q++) dr[q] = 0.0f;
            for (int q = q_lo; q < q_hi; q++) dr[q] = xr[s * q];
            for (int q = q_hi; q < Wq; q++) dr[q] = 0.0f;
          }
        }
        if (n1 == N) {
          for (int t = N * Hq * Wq; t < S; t++) row[t] = 0.0f;
        }
      }
    }
  }
}

// dc dense [N][C][OH][OW] -> D [C][S]: image n's (r, q) at n * Hq * Wq + r * Wq + q, 0 where r >= OH or q >= OW, and
// 0 in the tail [N * Hq * Wq, S). Items: images (the thread whose range ends at N writes the tails).
EXPORT("dw_layout_dc")
void dw_layout_dc(const float* dc, float* D, int N, int C, int OH, int OW, int Hq, int Wq, int S, int n0, int n1) {
  for (int c = 0; c < C; c++) {
    float* row = D + c * S;
    for (int n = n0; n < n1; n++) {
      const float* src = dc + (n * C + c) * OH * OW;
      float* d = row + n * Hq * Wq;
      for (int r = 0; r < Hq; r++) {
        float* dr = d + r * Wq;
        if (r >= OH) {
          for (int q = 0; q < Wq; q++) dr[q] = 0.0f;
          continue;
        }
        const float* sr = src + r * OW;
        int q = 0;
        for (; q < OW; q++) dr[q] = sr[q];
        for (; q < Wq; q++) dr[q] = 0.0f;
      }
    }
    if (n1 == N) {
      for (int t = N * Hq * Wq; t < S; t++) row[t] = 0.0f;
    }
  }
}
