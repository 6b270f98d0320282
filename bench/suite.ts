// The benchmark cases and the one entry point that runs a case, by name, on a device. The Node
// process lists the cases. A case runs where the device is, which is this process for the node
// runtime and the Chromium page (through page.evaluate) for the browser runtime.
import type { Gpu } from '../src/gpu/gpu.js';
import { KERNEL_CASES, type WorkMetric } from './kernels.js';
import { matmulFlops, measureMatmul, type MatmulTuning } from './matmul.js';
import { measureLocalPeak, measureProbes, type ProbeResult, type ProbeSize } from './probes.js';
import { trmDims, trmMatmulShapes } from './shapes.js';
import { initPeer, peerAdd, peerAttention, peerMatmul, peerRmsNorm, peerSoftmaxCrossEntropy, peerSwiglu, timePeer, type PeerCase, type PeerInfo, type Tf } from './tfjs.js';
import { timeEncoded, type Timing, type TimingPolicy } from './timing.js';
import { measurePeerTrainer, type PeerTrainerResult } from './tfjs-trainer.js';
import { measureTrainer, type TrainerResult, type TrainerSpec } from './trainer.js';

export type Side = 'ours' | 'peer';

/** A request to run one case by name at a batch, ours or the peer's. Plain data, so that it crosses page.evaluate. */
export interface CaseSpec {
  name: string;
  batch: number;
  side: Side;
  policy: TimingPolicy;
  /** Peer cases: the work of our run of the case, credited to the peer so rates compare as times do. */
  work?: number;
  /** Our matmul cases: run the tuning pass only for products of at most this many FLOPs (--quick). */
  tuningFlopsLimit?: number;
}

export interface CaseResult {
  name: string;
  batch: number;
  side: Side;
  metric: WorkMetric;
  /** FLOPs or bytes of one run. */
  work: number;
  /** Null when the case failed; see error. */
  timing: Timing | null;
  /** Ours only: the FMA peak (GFLOP/s) or copy bandwidth (GB/s) probed right before the case. */
  localPeak?: number;
  error?: string;
  variant?: string;
  /** Matmul only: whether the tuning pass ran, its seconds per product of each variant, and its own duration. */
  tuning?: MatmulTuning;
  variantSeconds?: Record<string, number>;
  tuningSeconds?: number;
  note?: string;
}

/** State a runtime keeps between cases: the engine's device and, where loaded, TensorFlow.js. */
export interface BenchContext {
  gpu: Gpu;
  tf: Tf | null;
  peer: PeerInfo | null;
}

/** A case as the Node side lists it: its name and whether the peer has a counterpart. */
export interface CaseEntry {
  name: string;
  metric: WorkMetric;
  hasPeer: boolean;
}

const MATMUL_PREFIX = 'matmul ';

const PEER_CASES: Record<string, PeerCase> = {
  'cross-entropy softmax fwd+bwd': { name: 'cross-entropy softmax fwd+bwd', note: 'one-hot labels, mean loss (ours: i32 labels, per-puzzle loss)', build: peerSoftmaxCrossEntropy },
  'rmsnorm forward': { name: 'rmsnorm forward', note: 'no rstd output', build: peerRmsNorm },
  'swiglu forward': { name: 'swiglu forward', build: peerSwiglu },
  add: { name: 'add', build: peerAdd },
  'attention forward': { name: 'attention forward', note: 'no logsumexp output', build: peerAttention },
};

export function listCases(batch: number): CaseEntry[] {
  const matmuls = trmMatmulShapes(trmDims(batch)).map(({ name }) => ({ name: MATMUL_PREFIX + name, metric: 'flops' as const, hasPeer: true }));
  const kernels = KERNEL_CASES.map(({ name, metric }) => ({ name, metric, hasPeer: Object.hasOwn(PEER_CASES, name) }));
  return [...matmuls, ...kernels];
}

/** Selects the peer's backend once per runtime; see initPeer. */
export async function preparePeer(context: BenchContext): Promise<PeerInfo | null> {
  context.peer = context.tf ? await initPeer(context.tf) : null;
  return context.peer;
}

export async function runProbes(context: BenchContext, size: ProbeSize, policy: TimingPolicy): Promise<ProbeResult> {
  return measureProbes(context.gpu, size, policy);
}

export async function runTrainer(context: BenchContext, spec: TrainerSpec): Promise<TrainerResult> {
  return measureTrainer(context.gpu, spec);
}

/** Times the TF.js peer of a training step, or returns an error result where TensorFlow.js is not loaded. */
export async function runPeerTrainer(context: BenchContext, spec: TrainerSpec): Promise<PeerTrainerResult> {
  if (!context.tf || !context.peer) {
    return { preset: spec.preset, batch: spec.batch, backend: null, step: null, losses: [], note: '', error: 'TensorFlow.js is not loaded in this runtime' };
  }
  return measurePeerTrainer(context.tf, context.peer, spec);
}

export async function runCase(context: BenchContext, spec: CaseSpec): Promise<CaseResult> {
  const metric = listCases(spec.batch).find((entry) => entry.name === spec.name)?.metric ?? 'flops';
  try {
    if (spec.side === 'peer') return await runPeerCase(context, spec, metric);
    if (spec.name.startsWith(MATMUL_PREFIX)) return await runOurMatmul(context.gpu, spec);
    return await runOurKernel(context.gpu, spec);
  } catch (error) {
    return { ...specFields(spec), metric, work: spec.work ?? 0, timing: null, error: String((error as Error)?.message ?? error) };
  }
}

async function runOurMatmul(gpu: Gpu, spec: CaseSpec): Promise<CaseResult> {
  const shape = matmulShape(spec);
  const tuneIt = spec.tuningFlopsLimit === undefined || matmulFlops(shape.plan) <= spec.tuningFlopsLimit;
  const measured = await measureMatmul(gpu, shape, spec.policy, tuneIt, () => measureLocalPeak(gpu, 'flops', spec.policy));
  const { variant, tuning, variantSeconds, tuningSeconds, localPeak } = measured;
  return { ...specFields(spec), metric: 'flops', work: measured.flops, timing: measured.timing, localPeak, variant, tuning, variantSeconds, tuningSeconds };
}

async function runOurKernel(gpu: Gpu, spec: CaseSpec): Promise<CaseResult> {
  const kernel = KERNEL_CASES.find((entry) => entry.name === spec.name);
  if (!kernel) throw new Error(`unknown case '${spec.name}'`);
  const op = await kernel.build(gpu, trmDims(spec.batch));
  try {
    const localPeak = await measureLocalPeak(gpu, kernel.metric, spec.policy);
    const timing = await timeEncoded(gpu, () => op.encode(), spec.policy);
    return { ...specFields(spec), metric: kernel.metric, work: op.work, timing, localPeak, variant: op.variant };
  } finally {
    op.destroy();
  }
}

async function runPeerCase(context: BenchContext, spec: CaseSpec, metric: WorkMetric): Promise<CaseResult> {
  const { tf } = context;
  if (!tf || !context.peer) throw new Error('TensorFlow.js is not loaded in this runtime');
  const listed = Object.hasOwn(PEER_CASES, spec.name) ? PEER_CASES[spec.name] : undefined;
  const peerCase = spec.name.startsWith(MATMUL_PREFIX) ? matmulPeerCase(spec) : listed;
  if (!peerCase) throw new Error(`no TensorFlow.js counterpart for '${spec.name}'`);
  const op = peerCase.build(tf, trmDims(spec.batch));
  try {
    const timing = await timePeer(tf, op, spec.policy);
    return { ...specFields(spec), metric, work: spec.work ?? 0, timing, note: peerCase.note };
  } finally {
    tf.dispose(op.inputs);
  }
}

function matmulPeerCase(spec: CaseSpec): PeerCase {
  const { plan } = matmulShape(spec);
  const note = plan.accumulate ? 'plain product (ours also adds into dW)' : undefined;
  return { name: spec.name, note, build: peerMatmul(plan) };
}

function matmulShape(spec: CaseSpec) {
  const shape = trmMatmulShapes(trmDims(spec.batch)).find(({ name }) => MATMUL_PREFIX + name === spec.name);
  if (!shape) throw new Error(`unknown matmul case '${spec.name}'`);
  return shape;
}

function specFields(spec: CaseSpec): Pick<CaseResult, 'name' | 'batch' | 'side'> {
  return { name: spec.name, batch: spec.batch, side: spec.side };
}
