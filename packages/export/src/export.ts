import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ExportedModel, exportTaskModel, type Registry } from '@supermask/core';
import { writeModelCard } from './card.js';
import { modelGraph } from './graph.js';
import { writeOnnxModel } from './onnx.js';
import { writeTfjsModel } from './tfjs.js';

/** native: supermask-model.json + model.safetensors (loaded by @supermask/core); tfjs: a LayersModel; onnx: model.onnx. */
export const EXPORT_FORMATS = ['native', 'tfjs', 'onnx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/**
 * Exports task `task` (0-based) of a run in `format` to `outDir`, with a model card (README.md).
 * Returns the files written, the card last.
 */
export async function exportModel(runDir: string, task: number, outDir: string, registry: Registry, format: ExportFormat): Promise<string[]> {
  if (format === 'native') {
    const native = await exportTaskModel(runDir, task, outDir, registry);
    return [native.manifest, native.tensors, writeModelCard(outDir, { format, files: [basename(native.manifest), basename(native.tensors)], runDir, task })];
  }
  const scratch = mkdtempSync(join(tmpdir(), 'supermask-export-'));
  try {
    await exportTaskModel(runDir, task, scratch, registry);
    const model = ExportedModel.load(scratch, registry);
    let files: string[];
    try {
      const graph = modelGraph(model);
      mkdirSync(outDir, { recursive: true });
      files = format === 'tfjs' ? Object.values(await writeTfjsModel(graph, outDir)) : Object.values(writeOnnxModel(graph, outDir));
    } finally {
      model.dispose();
    }
    return [...files, writeModelCard(outDir, { format, files: files.map((f) => basename(f)), runDir, task })];
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
