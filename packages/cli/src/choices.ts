/** The backends of `--backend` (core's BACKEND_CHOICES, which a test keeps equal; here so that --help needs no core). */
export const BACKEND_NAMES = ['auto', 'tensorflow', 'cpu', 'cpu-plain'] as const;
