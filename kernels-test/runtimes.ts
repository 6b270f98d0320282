// The runtimes every kernel test runs on: the engine in this Node process (Dawn), and the
// engine inside a headless Chromium page. Both execute the same op-runner code.
import { createGpu } from '../src/gpu/device.js';
import type { AdapterSummary, Gpu } from '../src/gpu/gpu.js';
import { ChromiumHost } from '../src/runtime/chromium.js';
import { runOp, type OpOutputs, type OpRequest } from '../src/testing/op-runner.js';

export type RuntimeName = 'node' | 'chromium';

export interface KernelRuntime {
  name: RuntimeName;
  adapter: AdapterSummary;
  run(request: OpRequest): Promise<OpOutputs>;
  close(): Promise<void>;
}

/** Runtimes to test, from TRM_TEST_RUNTIMES (comma-separated); both by default. */
export function selectedRuntimes(): RuntimeName[] {
  const names = (process.env.TRM_TEST_RUNTIMES ?? 'node,chromium').split(',').map((name) => name.trim());
  for (const name of names) {
    if (name !== 'node' && name !== 'chromium') throw new Error(`TRM_TEST_RUNTIMES: unknown runtime '${name}'; expected node or chromium`);
  }
  return names as RuntimeName[];
}

export async function openRuntime(name: RuntimeName): Promise<KernelRuntime> {
  return name === 'node' ? openNode() : openChromium();
}

async function openNode(): Promise<KernelRuntime> {
  const gpu: Gpu = await createGpu();
  return {
    name: 'node',
    adapter: gpu.adapter,
    run: (request) => runOp(gpu, request),
    close: async () => gpu.destroy(),
  };
}

async function openChromium(): Promise<KernelRuntime> {
  const host = await ChromiumHost.launch();
  return {
    name: 'chromium',
    adapter: host.adapter,
    run: (request) => host.runOp(request),
    close: () => host.close(),
  };
}
