/**
 * `rotated`: domain-incremental Rotated-MNIST style stream. Every task holds all classes; task t
 * rotates every image by its angle (bilinear, about the image centre, zero fill outside).
 */
import { ConfigError, type JsonSchema, type LabeledDataset, type Rng, type StreamBuilder, type TaskStream } from '@supermask/core';
import { buildTaskStream, COMMON_STREAM_PROPERTIES, commonPlanOptions, imageGeometry, type CommonStreamOptions, type ImageTransform } from './common.js';

export interface RotatedStreamOptions extends CommonStreamOptions {
  tasks: number;
  /** Angle of each task in degrees (counter-clockwise); length == tasks. */
  angles?: number[];
  /** Degrees between consecutive tasks, the first at 0°. Default: 180 / tasks. */
  angle_step?: number;
}

export const ROTATED_STREAM_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    tasks: { type: 'integer', minimum: 1, default: 10, description: 'Number of tasks' },
    angles: {
      type: 'array',
      items: { type: 'number' },
      minItems: 1,
      description: 'Rotation of each task in degrees, counter-clockwise (one per task); excludes angle_step',
    },
    angle_step: {
      type: 'number',
      description: 'Degrees between consecutive tasks, the first task at 0 (default: 180 / tasks); excludes angles',
    },
    ...COMMON_STREAM_PROPERTIES,
  },
  additionalProperties: false,
};

/** The angle of each task in degrees. Throws `ConfigError` when `angles` and `angle_step` conflict. */
export function resolveAngles(options: RotatedStreamOptions): number[] {
  if (options.angles !== undefined && options.angle_step !== undefined) {
    throw new ConfigError('invalid options of rotated stream', [
      'stream.options.angles: give either angles or angle_step, not both',
    ]);
  }
  if (options.angles !== undefined) {
    if (options.angles.length !== options.tasks) {
      throw new ConfigError('invalid options of rotated stream', [
        `stream.options.angles: lists ${options.angles.length} angles, expected one per task (tasks = ${options.tasks})`,
      ]);
    }
    return [...options.angles];
  }
  const step = options.angle_step ?? 180 / options.tasks;
  return Array.from({ length: options.tasks }, (_, t) => t * step);
}

/** Snaps values within 1e-9 of an integer, so multiples of 90° sample exact pixels. */
function snap(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - r) < 1e-9 ? r : v;
}

/**
 * An image transform rotating an HWC image by `degrees` counter-clockwise (as displayed, row 0 at
 * the top) about its centre ((width-1)/2, (height-1)/2): bilinear interpolation, zero outside.
 * The sampling grid is computed once and reused for every image.
 */
export function rotationTransform(height: number, width: number, channels: number, degrees: number): ImageTransform {
  const theta = (degrees * Math.PI) / 180;
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const pixels = height * width;
  // For output pixel p: four source pixels (or -1 outside) and their bilinear weights.
  const source = new Int32Array(pixels * 4).fill(-1);
  const weight = new Float32Array(pixels * 4);
  for (let yo = 0; yo < height; yo++) {
    for (let xo = 0; xo < width; xo++) {
      const dx = xo - cx;
      const dy = yo - cy;
      const xs = snap(cx + dx * cos - dy * sin);
      const ys = snap(cy + dx * sin + dy * cos);
      const x0 = Math.floor(xs);
      const y0 = Math.floor(ys);
      const fx = xs - x0;
      const fy = ys - y0;
      const p = (yo * width + xo) * 4;
      const corners: [number, number, number][] = [
        [x0, y0, (1 - fx) * (1 - fy)],
        [x0 + 1, y0, fx * (1 - fy)],
        [x0, y0 + 1, (1 - fx) * fy],
        [x0 + 1, y0 + 1, fx * fy],
      ];
      corners.forEach(([x, y, w], k) => {
        if (w > 0 && x >= 0 && x < width && y >= 0 && y < height) {
          source[p + k] = y * width + x;
          weight[p + k] = w;
        }
      });
    }
  }
  if (channels === 1) {
    return (src, dst) => {
      for (let p = 0, q = 0; p < pixels; p++, q += 4) {
        let v = 0;
        for (let k = q; k < q + 4; k++) {
          const s = source[k];
          if (s >= 0) v += weight[k] * src[s];
        }
        dst[p] = v;
      }
    };
  }
  return (src, dst) => {
    for (let p = 0; p < pixels; p++) {
      for (let c = 0; c < channels; c++) {
        let v = 0;
        for (let k = 0; k < 4; k++) {
          const s = source[p * 4 + k];
          if (s >= 0) v += weight[p * 4 + k] * src[s * channels + c];
        }
        dst[p * channels + c] = v;
      }
    }
  };
}

export class RotatedStream implements StreamBuilder {
  readonly angles: number[];

  constructor(readonly options: RotatedStreamOptions) {
    this.angles = resolveAngles(options);
  }

  build(dataset: LabeledDataset, rng: Rng): TaskStream {
    const { height, width, channels } = imageGeometry(dataset.inputShape, 'rotated');
    const classes = Array.from({ length: dataset.numClasses }, (_, c) => c);
    return buildTaskStream(dataset, rng, {
      name: `rotated ${dataset.name}`,
      ...commonPlanOptions(this.options),
      tasks: this.angles.map((angle, t) => ({
        name: `task ${t + 1}: rotated ${Number(angle.toFixed(4))}°`,
        classes,
        transform: angle === 0 ? undefined : rotationTransform(height, width, channels, angle),
      })),
    });
  }
}
