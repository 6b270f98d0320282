// The peer: the same work written with TensorFlow.js, on its WebGPU backend (or, where that
// backend fails to start, on its 'cpu' backend, labelled as such). TensorFlow.js is passed in
// (window.tf in a page, see tfjs-node.ts in Node), so this module loads in both runtimes.
import type * as tfjs from '@tensorflow/tfjs';
import type { MatmulPlan } from '../src/kernels/matmul.js';
import { attentionShape } from './kernels.js';
import { randomFloats } from './data.js';
import type { TrmDims } from './shapes.js';
import { timeRepeats, type RepeatSample, type Timing, type TimingPolicy } from './timing.js';

export type Tf = typeof tfjs;
type Tensor = tfjs.Tensor;

export interface PeerInfo {
  /** 'tfjs-webgpu', or 'tfjs-cpu' when the WebGPU backend failed (see error). */
  name: 'tfjs-webgpu' | 'tfjs-cpu';
  version: string;
  /** The reason the WebGPU backend is not in use, exactly as TensorFlow.js reported it. */
  webgpuError: string | null;
  /** The adapter TensorFlow.js's device came from (WebGPU only). */
  adapter: string | null;
  timestamps: boolean;
}

/** The parts of WebGPUBackend the timer uses: flushing its recorded commands and waiting. */
interface WebGpuBackendLike {
  queue: GPUQueue;
  adapterInfo?: { vendor?: string; architecture?: string };
  supportTimestampQuery?: boolean;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

/** Selects TensorFlow.js's WebGPU backend, falling back to 'cpu' with the reason recorded. */
export async function initPeer(tf: Tf): Promise<PeerInfo> {
  const version = tf.version?.tfjs ?? 'unknown';
  const webgpuError = await selectWebGpu(tf);
  if (webgpuError === null) {
    const backend = tf.backend() as unknown as WebGpuBackendLike;
    const info = backend.adapterInfo;
    const adapter = [info?.vendor, info?.architecture].filter(Boolean).join(' / ') || null;
    return { name: 'tfjs-webgpu', version, webgpuError, adapter, timestamps: Boolean(backend.supportTimestampQuery) };
  }
  await tf.setBackend('cpu');
  await tf.ready();
  return { name: 'tfjs-cpu', version, webgpuError, adapter: null, timestamps: false };
}

async function selectWebGpu(tf: Tf): Promise<string | null> {
  const factory = tf.findBackendFactory('webgpu');
  if (!factory) return "no 'webgpu' backend registered (tf-backend-webgpu found no navigator.gpu)";
  // Small tensors would otherwise be computed by the CPU backend, which is not the comparison.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  if (await tf.setBackend('webgpu')) {
    await tf.ready();
    return null;
  }
  // setBackend only logs why; the factory throws the error itself.
  try {
    await factory();
    return 'tf.setBackend("webgpu") returned false';
  } catch (error) {
    return String((error as Error)?.message ?? error);
  }
}

export interface PeerCase {
  name: string;
  /** The differences between the peer's work and ours, if any. */
  note?: string;
  build(tf: Tf, dims: TrmDims): PeerOp;
}

interface PeerOp {
  run(): tfjs.TensorContainer;
  inputs: Tensor[];
}

/**
 * Under tf.time, each TF.js kernel gets its own pass and submit, which inflates the wall clock
 * of short ops. So only ops at least this slow take both numbers from the same runs.
 */
const SHARED_RUNS_SECONDS = 0.05;

/**
 * Times a peer op: runs back to back with one flush-and-wait for the wall clock, and the sum
 * of its kernels' timestamps via tf.time (TF.js's own per-pass timestampWrites).
 */
export async function timePeer(tf: Tf, op: PeerOp, policy: TimingPolicy): Promise<Timing> {
  const backend = tf.getBackend() === 'webgpu' ? (tf.backend() as unknown as WebGpuBackendLike) : null;
  const timestamps = Boolean(backend?.supportTimestampQuery);
  const runs = (count: number) => {
    for (let i = 0; i < count; i++) tf.dispose(tf.tidy(op.run));
  };
  const wall = async (work: () => Promise<unknown>) => {
    const started = performance.now();
    const result = await work();
    if (backend) await flush(backend);
    return { seconds: (performance.now() - started) / 1000, result };
  };
  let estimate = 0;
  const warmUp = async () => (estimate = (await wall(async () => runs(1))).seconds);
  const repeat = async (count: number): Promise<RepeatSample> => {
    if (!timestamps) return { wallSeconds: (await wall(async () => runs(count))).seconds, gpuSeconds: null };
    if (estimate >= SHARED_RUNS_SECONDS) {
      const timed = await wall(() => tf.time(() => runs(count)));
      return { wallSeconds: timed.seconds, gpuSeconds: kernelSeconds(timed.result as tfjs.TimingInfo) };
    }
    const wallSeconds = (await wall(async () => runs(count))).seconds;
    return { wallSeconds, gpuSeconds: kernelSeconds(await tf.time(() => runs(count))) };
  };
  return timeRepeats(warmUp, repeat, policy);
}

function kernelSeconds(info: tfjs.TimingInfo): number | null {
  return typeof info.kernelMs === 'number' && info.kernelMs > 0 ? info.kernelMs / 1000 : null;
}

/** Submits what the WebGPU backend has recorded and waits for the queue; on 'cpu' there is nothing to wait for. */
export async function flushPeer(tf: Tf): Promise<void> {
  if (tf.getBackend() === 'webgpu') await flush(tf.backend() as unknown as WebGpuBackendLike);
}

/** Submits what TensorFlow.js has recorded and waits for the queue, as gpu.sync() does for ours. */
async function flush(backend: WebGpuBackendLike): Promise<void> {
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();
  await backend.queue.onSubmittedWorkDone();
}

function random(tf: Tf, shape: number[], seed: number): Tensor {
  return tf.tensor(randomFloats(shape.reduce((a, b) => a * b, 1), seed), shape);
}

/**
 * Builds a matmul plan's product as tf.matMul operands. A is stored [M, K], or [K, M]
 * (transposeA) when k is not its contiguous axis, and B likewise [K, N] or [N, K]. A weight
 * shared across the batch is [1, ·, ·], which tf.matMul broadcasts.
 */
export function peerMatmul(plan: MatmulPlan): PeerCase['build'] {
  return (tf) => {
    const transposeA = plan.aStrideK !== 1;
    const transposeB = plan.bStrideN !== 1;
    const aBatch = batchAxis(plan.batch, plan.aStrideBatch);
    const bBatch = batchAxis(plan.batch, plan.bStrideBatch);
    const a = random(tf, [...aBatch, ...(transposeA ? [plan.K, plan.M] : [plan.M, plan.K])], 1);
    const b = random(tf, [...bBatch, ...(transposeB ? [plan.N, plan.K] : [plan.K, plan.N])], 3);
    return { run: () => tf.matMul(a, b, transposeA, transposeB), inputs: [a, b] };
  };
}

/** The leading axis of a batched operand: none for one product, 1 for a shared operand. */
function batchAxis(batch: number, stride: number): number[] {
  if (batch === 1) return [];
  return [stride === 0 ? 1 : batch];
}

/** Softmax cross-entropy over [batch·81, vocab] logits, loss and gradient, as a TF.js user writes it. */
export function peerSoftmaxCrossEntropy(tf: Tf, dims: TrmDims): PeerOp {
  const rows = dims.batch * dims.seq;
  const logits = random(tf, [rows, dims.vocab], 1);
  const labels = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from({ length: rows }, (_, i) => i % dims.vocab), 'int32'), dims.vocab).toFloat());
  const lossAndGrad = tf.valueAndGrad((x: Tensor) => tf.losses.softmaxCrossEntropy(labels, x));
  return { run: () => lossAndGrad(logits), inputs: [logits, labels] };
}

/** RMSNorm without gain over the hidden axis of [batch·tokens, hidden]. */
export function peerRmsNorm(tf: Tf, dims: TrmDims): PeerOp {
  const x = random(tf, [dims.batch * dims.tokens, dims.hidden], 1);
  return { run: () => tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-5))), inputs: [x] };
}

/** SwiGLU on the fused gate|up projection [batch·tokens, 2·inner]. */
export function peerSwiglu(tf: Tf, dims: TrmDims): PeerOp {
  const gateUp = random(tf, [dims.batch * dims.tokens, 2 * dims.inner], 1);
  const run = () => {
    const [gate, up] = tf.split(gateUp, 2, 1);
    return tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
  };
  return { run, inputs: [gateUp] };
}

export function peerAdd(tf: Tf, dims: TrmDims): PeerOp {
  const shape = [dims.batch * dims.tokens * dims.hidden];
  const [a, b] = [random(tf, shape, 1), random(tf, shape, 3)];
  return { run: () => tf.add(a, b), inputs: [a, b] };
}

/** Non-causal attention from the fused qkv [batch, tokens, 3, heads, headDim] to [batch, tokens, heads·headDim]. */
export function peerAttention(tf: Tf, dims: TrmDims): PeerOp {
  const { batch, seq, heads, headDim } = attentionShape(dims);
  const qkv = random(tf, [batch, seq, 3, heads, headDim], 1);
  const run = () => {
    const [q, k, v] = tf.unstack(tf.transpose(qkv, [2, 0, 3, 1, 4]));
    const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(headDim));
    const out = tf.matMul(tf.softmax(scores), v);
    return tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [batch, seq, heads * headDim]);
  };
  return { run, inputs: [qkv] };
}
