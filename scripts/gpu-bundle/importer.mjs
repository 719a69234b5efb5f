// The optional modules selectBackend imports by name, written out as literals so that esbuild
// puts them in the bundle (loaded lazily all the same); the bundle entries install this with
// core's setModuleImporter. Any other name is imported as is.
import { setModuleImporter } from '@supermask/core';

setModuleImporter((name) => {
  switch (name) {
    case '@tensorflow/tfjs-backend-webgpu':
      return import('@tensorflow/tfjs-backend-webgpu');
    case 'webgpu':
      return import('webgpu');
    case '@supermask/kernels-ort':
      return import('@supermask/kernels-ort');
    default:
      return import(name);
  }
});
