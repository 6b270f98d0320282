// WebGPU in Node through the `webgpu` package (Dawn).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { log } from '../log.js';
import { AdapterError } from './errors.js';
import { chooseVulkanIcd } from './vulkan-icd.js';

// The GPU object returned by create() owns Dawn's instance, and nothing else keeps it alive:
// once V8 collects it, ~GPU() frees the instance while Node still calls ProcessEvents() on it
// for live devices. That use-after-free (valgrind: invalid read in dawn::native::Instance::Get
// from AsyncRunner::ScheduleProcessEvents) corrupts the heap and shows up as SIGSEGV, futex
// or mutex aborts, most often on software drivers where shaders run long enough for a GC to
// land mid-flight. Holding the object for the life of the process avoids it (see "Lifetime"
// in https://github.com/dawn-gpu/node-webgpu#lifetime). Seen with webgpu 0.6.2. This can go
// once dawn.node keeps its instance alive while any adapter or device exists. The test
// 'node device survives garbage collection' shows whether it still matters.
let dawnGpu: GPU | null = null;

export async function nodeGpu(): Promise<GPU> {
  if (dawnGpu) return dawnGpu;

  // NOTE: the Vulkan loader reads VK_ICD_FILENAMES from the process environment, and a
  // worker_thread's process.env does not write to it. In a worker, set it before starting Node.
  const icd = chooseVulkanIcd();
  if (icd.manifest) process.env.VK_ICD_FILENAMES = icd.manifest;

  // SwiftShader probes for a Wayland display and prints an error line when XDG_RUNTIME_DIR
  // is unset, as on CI machines and in containers. An empty private folder keeps it quiet.
  process.env.XDG_RUNTIME_DIR ??= mkdtempSync(join(tmpdir(), 'trm-xdg-'));
  log(2, `Vulkan driver: ${icd.manifest ?? process.env.VK_ICD_FILENAMES ?? 'loader default'} (${icd.reason})`);

  let webgpu: { create(options: string[]): GPU; globals: object };
  try {
    webgpu = (await import('webgpu')) as typeof webgpu;
  } catch (cause) {
    throw new AdapterError(`the 'webgpu' package (Dawn for Node) could not be loaded: ${(cause as Error).message}; run 'npm install'`);
  }

  Object.assign(globalThis, webgpu.globals);
  dawnGpu = webgpu.create([]);
  return dawnGpu;
}
