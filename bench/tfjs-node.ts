// Loads TensorFlow.js in Node for the node runtime's peer. Its WebGPU backend registers only
// where navigator.gpu exists, and Node 20 has no navigator. So the Dawn GPU object that the
// engine uses is put there first, and the backend requests its own device from it.
import { createRequire } from 'node:module';
import { nodeGpu } from '../src/gpu/node-gpu.js';
import type { Tf } from './tfjs.js';

/** TensorFlow.js with the WebGPU backend registered, or null where the packages are missing. */
export async function loadTfjs(): Promise<Tf | null> {
  const gpu = await nodeGpu();
  const global = globalThis as { navigator?: { gpu?: GPU } };
  global.navigator ??= {};
  if (!global.navigator.gpu) Object.defineProperty(global.navigator, 'gpu', { value: gpu, configurable: true });

  const require = createRequire(import.meta.url);
  try {
    const tf = require('@tensorflow/tfjs') as Tf;
    require('@tensorflow/tfjs-backend-webgpu');
    return tf;
  } catch {
    return null;
  }
}
