// The two runtimes of the suite: this Node process on Dawn, and a headless Chromium page driven
// through puppeteer. Both expose the same calls, and the browser forwards each to the page.
import type { AdapterSummary } from '../src/gpu/gpu.js';
import { createGpu } from '../src/gpu/device.js';
import { ChromiumHost } from '../src/runtime/chromium.js';
import type { ProbeResult, ProbeSize } from './probes.js';
import type { BenchContext, CaseResult, CaseSpec } from './suite.js';
import * as suite from './suite.js';
import type { PeerInfo } from './tfjs.js';
import type { PeerTrainerResult } from './tfjs-trainer.js';
import type { TrainerResult, TrainerSpec } from './trainer.js';
import type { TimingPolicy } from './timing.js';

export type RuntimeName = 'browser' | 'node';

export interface BenchRuntime {
  name: RuntimeName;
  adapter: AdapterSummary;
  /** The browser or Node version and WebGPU implementation, for the report. */
  platform: string;
  preparePeer(): Promise<PeerInfo | null>;
  probes(size: ProbeSize, policy: TimingPolicy): Promise<ProbeResult>;
  run(spec: CaseSpec): Promise<CaseResult>;
  trainer(spec: TrainerSpec): Promise<TrainerResult>;
  peerTrainer(spec: TrainerSpec): Promise<PeerTrainerResult>;
  close(): Promise<void>;
}

export async function openRuntime(name: RuntimeName): Promise<BenchRuntime> {
  return name === 'node' ? openNode() : openBrowser();
}

async function openNode(): Promise<BenchRuntime> {
  const gpu = await createGpu();
  const { loadTfjs } = await import('./tfjs-node.js');
  const context: BenchContext = { gpu, tf: await loadTfjs(), peer: null };
  return {
    name: 'node',
    adapter: gpu.adapter,
    platform: `Node ${process.versions.node}, Dawn (webgpu package)`,
    preparePeer: () => suite.preparePeer(context),
    probes: (size, policy) => suite.runProbes(context, size, policy),
    run: (spec) => suite.runCase(context, spec),
    trainer: (spec) => suite.runTrainer(context, spec),
    peerTrainer: (spec) => suite.runPeerTrainer(context, spec),
    close: async () => gpu.destroy(),
  };
}

// The page loads TensorFlow.js (two classic scripts from PAGE_FILES), then the engine and the
// suite, and keeps the context that the calls below use.
const BENCH_PAGE = `<!doctype html><meta charset="utf-8"><title>trm-webgpu bench</title>
<script src="/vendor/tf.min.js"></script>
<script src="/vendor/tf-backend-webgpu.min.js"></script>
<script type="module">
  try {
    const engine = await import('/dist/src/index.js');
    const suite = await import('/dist/bench/suite.js');
    const gpu = await engine.createGpu();
    const context = { gpu, tf: window.tf ?? null, peer: null };
    window.trmHost = { gpu, summary: gpu.adapter, suite, context };
  } catch (error) {
    window.trmHost = { error: String(error && error.message || error) };
  }
</script>`;

/** Long enough for the slowest single case (a matmul tuning pass at a large batch on SwiftShader). */
const PAGE_CALL_TIMEOUT_MS = 30 * 60 * 1000;

interface PageHost {
  suite: typeof suite;
  context: BenchContext;
}

async function openBrowser(): Promise<BenchRuntime> {
  const host = await ChromiumHost.launch({ hostPage: BENCH_PAGE, protocolTimeout: PAGE_CALL_TIMEOUT_MS });
  const { page } = host;
  // Each function below runs in the page, where window.trmHost is the object BENCH_PAGE made.
  return {
    name: 'browser',
    adapter: host.adapter,
    platform: `${await page.browser().version()}, its own WebGPU (Dawn)`,
    preparePeer: () =>
      page.evaluate(() => {
        const { suite, context } = (window as unknown as { trmHost: PageHost }).trmHost;
        return suite.preparePeer(context);
      }),
    probes: (size, policy) =>
      page.evaluate(
        (size, policy) => {
          const { suite, context } = (window as unknown as { trmHost: PageHost }).trmHost;
          return suite.runProbes(context, size, policy);
        },
        size,
        policy,
      ),
    run: (spec) =>
      page.evaluate((spec) => {
        const { suite, context } = (window as unknown as { trmHost: PageHost }).trmHost;
        return suite.runCase(context, spec);
      }, spec),
    trainer: (spec) =>
      page.evaluate((spec) => {
        const { suite, context } = (window as unknown as { trmHost: PageHost }).trmHost;
        return suite.runTrainer(context, spec);
      }, spec),
    peerTrainer: (spec) =>
      page.evaluate((spec) => {
        const { suite, context } = (window as unknown as { trmHost: PageHost }).trmHost;
        return suite.runPeerTrainer(context, spec);
      }, spec),
    close: () => host.close(),
  };
}
