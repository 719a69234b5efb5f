// Entry of the bundle's bench: bench/gpu.mjs with the bundled optional modules (importer.mjs).
import './importer.mjs';

await import('../../bench/gpu.mjs');
