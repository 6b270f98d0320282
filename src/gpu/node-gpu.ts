// WebGPU in Node through the `webgpu` package (Dawn).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { log } from '../log.js';
import { AdapterError } from './errors.js';
import { chooseVulkanIcd } from './vulkan-icd.js';

// The GPU object owns Dawn's instance. It is kept for the life of the process because an
// adapter or device must not outlive the instance that created it.
let dawnGpu: GPU | null = null;

export async function nodeGpu(): Promise<GPU> {
  if (dawnGpu) return dawnGpu;

  const icd = chooseVulkanIcd();
  if (icd.manifest) process.env.VK_ICD_FILENAMES = icd.manifest;
  // SwiftShader probes for a Wayland display and prints an error line when
  // XDG_RUNTIME_DIR is unset, as on CI machines and in containers; an empty private
  // folder keeps it quiet and changes nothing else.
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
