// A quick end-to-end check of a runtime: device creation and every matmul variant against
// the float64 reference, at the shapes of a TRM linear layer.
import { createGpu, describeAdapter } from './gpu/device.js';
import { linearForwardPlan, matmulReference, matmulSizes, matmulVariantSupports, matmulVariantUnavailable, MATMUL_VARIANTS } from './kernels/matmul.js';
import { ChromiumHost } from './runtime/chromium.js';
import { runOp, type OpRequest } from './testing/op-runner.js';
import type { AdapterSummary } from './gpu/gpu.js';

export type Runtime = 'node' | 'browser';

export interface SelfCheckReport {
  ok: boolean;
  lines: string[];
}

interface Session {
  adapter: AdapterSummary;
  run(request: OpRequest): Promise<Float32Array>;
  close(): Promise<void>;
}

export async function selfCheck(runtime: Runtime): Promise<SelfCheckReport> {
  const session = runtime === 'browser' ? await openBrowser() : await openNode();
  const lines = [describeAdapter(session.adapter)];
  let ok = true;

  try {
    const plan = linearForwardPlan(2 * 97, 512, 512);
    const sizes = matmulSizes(plan);
    const a = seededValues(sizes.a, 1);
    const b = seededValues(sizes.b, 2);
    const c = new Float32Array(sizes.c);
    const expected = matmulReference(plan, a, b);

    for (const variant of MATMUL_VARIANTS.filter((v) => matmulVariantSupports(v, plan))) {
      const unavailable = matmulVariantUnavailable(variant, session.adapter);
      if (unavailable) {
        lines.push(`matmul ${variant}: not available because ${unavailable}`);
        continue;
      }
      const started = performance.now();
      const actual = await session.run({ op: 'matmul', params: { plan, variant }, inputs: { a, b, c } });
      const seconds = (performance.now() - started) / 1000;
      const error = maxRelativeError(actual, expected);
      const passed = error < 1e-4;
      ok &&= passed;
      lines.push(`matmul ${variant} ${plan.M}x${plan.N}x${plan.K}: max relative error ${error.toExponential(2)} ${passed ? 'ok' : 'FAILED'} (${seconds.toFixed(2)} s including compilation)`);
    }
  } finally {
    await session.close();
  }
  return { ok, lines };
}

async function openNode(): Promise<Session> {
  const gpu = await createGpu();
  return {
    adapter: gpu.adapter,
    run: async (request) => (await runOp(gpu, request)).c as Float32Array,
    close: async () => gpu.destroy(),
  };
}

async function openBrowser(): Promise<Session> {
  const host = await ChromiumHost.launch();
  return {
    adapter: host.adapter,
    run: async (request) => (await host.runOp(request)).c as Float32Array,
    close: () => host.close(),
  };
}

function seededValues(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.sin(seed * 1000 + i * 0.7) * 0.5;
  return out;
}

function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i] - expected[i]) / scale;
    worst = Number.isNaN(error) ? Infinity : Math.max(worst, error);
  }
  return worst;
}
