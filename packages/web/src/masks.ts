import { encodeSafetensors, storedTensor, type RunView, type StoredTensor } from '@supermask/core/browser';

/**
 * The finished masks of a run as one safetensors file: `task_<k>/<layer>` holds task k's mask of
 * that layer as U8 0/1 values in the layer's weight shape (k from 1), readable by any safetensors
 * reader (Python's safetensors, the Hugging Face tools).
 */
export function masksSafetensors(experiment: RunView): Uint8Array {
  const tensors = new Map<string, StoredTensor>();
  const layers = experiment.backbone.layers;
  for (let task = 0; task < experiment.finishedTasks; task++) {
    experiment.masks(task).forEach((values, i) => {
      tensors.set(`task_${task + 1}/${layers[i]!.name}`, storedTensor('U8', [...layers[i]!.weight.shape], Uint8Array.from(values)));
    });
  }
  return encodeSafetensors(tensors, { format: 'supermask-masks', run: experiment.config.name, tasks: String(experiment.finishedTasks) });
}
