import { fileURLToPath } from 'node:url';

/**
 * Folder of the embedded Fashion-MNIST subset (gzipped IDX files), resolved relative to this
 * module so it is found both from `src/` (tests) and from `dist/` (the built package): both are
 * siblings of the package's `data/` folder.
 */
export const EMBEDDED_FASHION_MNIST_DIR: string = fileURLToPath(new URL('../data/fashion-mnist-subset', import.meta.url));

/** Examples per class in the embedded subset. */
export const EMBEDDED_FASHION_MNIST_PER_CLASS = { train: 1000, test: 200 } as const;
