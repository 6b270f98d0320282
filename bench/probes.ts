// The adapter's f32 FMA peak (the probe in shaders/probe.wgsl) and copy bandwidth (the probe
// below), the references for every "of peak" fraction.
import { wgslSources } from '../src/generated/wgsl.js';
import type { Gpu } from '../src/gpu/gpu.js';
import { timeEncoded, type Timing, type TimingPolicy } from './timing.js';

const PROBE_WORKGROUP = 64;
/** 8 independent vec4 FMA chains of 512 steps per invocation: 2 · 32 · 512 flops. */
const FMA_FLOPS_PER_INVOCATION = 2 * 32 * 512;

/**
 * Copies 8 vec4s per invocation, coalesced within the workgroup. The one-vec4 copy in
 * shaders/probe.wgsl measures invocation overhead on CPU-backed adapters rather than memory
 * (on SwiftShader it reached about 60% of this one, below what the elementwise kernels reach).
 */
const COPY_VECTORS = 8;
const COPY_PROBE = `
@group(0) @binding(0) var<storage, read> copy_source: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> copy_target: array<vec4f>;

@compute @workgroup_size(${PROBE_WORKGROUP})
fn copy(@builtin(local_invocation_index) local: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let base = (wid.x + wid.y * groups.x) * ${PROBE_WORKGROUP * COPY_VECTORS}u + local;
  for (var i = 0u; i < ${COPY_VECTORS}u; i++) {
    copy_target[base + i * ${PROBE_WORKGROUP}u] = copy_source[base + i * ${PROBE_WORKGROUP}u];
  }
}`;

export interface ProbeSize {
  fmaWorkgroups: number;
  /** Copy sizes; the bandwidth is the best of them, since the kernels' tensors range from cache-sized to DRAM-sized. */
  copyBytes: number[];
}

export interface CopyProbe {
  bytes: number;
  gbps: number;
  timing: Timing;
}

export interface ProbeResult {
  gflops: number;
  /** GB/s counting bytes read plus bytes written, the best over the copy sizes. */
  gbps: number;
  fma: Timing;
  copies: CopyProbe[];
}

/**
 * A short probe of the peak for one kernel's metric (GFLOP/s or GB/s), run right before it:
 * other processes on the machine change the peak by 2× within minutes, so a fraction is only
 * meaningful against a peak measured under the same load.
 */
export async function measureLocalPeak(gpu: Gpu, metric: 'flops' | 'bytes', policy: TimingPolicy): Promise<number> {
  const short = { ...policy, repeatSeconds: Math.min(policy.repeatSeconds, 0.05), minRepeats: Math.min(policy.minRepeats, 3), budgetSeconds: 0 };
  if (metric === 'flops') {
    const timing = await timeFma(gpu, LOCAL_FMA_WORKGROUPS, short);
    return (LOCAL_FMA_WORKGROUPS * PROBE_WORKGROUP * FMA_FLOPS_PER_INVOCATION) / timing.seconds / 1e9;
  }
  let best = 0;
  for (const bytes of LOCAL_COPY_BYTES) best = Math.max(best, (2 * bytes) / (await timeCopy(gpu, bytes, short)).seconds / 1e9);
  return best;
}

const LOCAL_FMA_WORKGROUPS = 256;
const LOCAL_COPY_BYTES = [1 << 20, 8 << 20];

export async function measureProbes(gpu: Gpu, size: ProbeSize, policy: TimingPolicy): Promise<ProbeResult> {
  const fma = await timeFma(gpu, size.fmaWorkgroups, policy);
  const copies: CopyProbe[] = [];
  for (const bytes of size.copyBytes) {
    const timing = await timeCopy(gpu, bytes, policy);
    copies.push({ bytes, gbps: (2 * bytes) / timing.seconds / 1e9, timing });
  }
  const flops = size.fmaWorkgroups * PROBE_WORKGROUP * FMA_FLOPS_PER_INVOCATION;
  return { gflops: flops / fma.seconds / 1e9, gbps: Math.max(...copies.map((copy) => copy.gbps)), fma, copies };
}

async function timeFma(gpu: Gpu, workgroups: number, policy: TimingPolicy): Promise<Timing> {
  const pipeline = await gpu.pipeline('probe.fma', wgslSources.probe, 'fma_peak');
  const sink = gpu.createBuffer('probe.sink', workgroups * PROBE_WORKGROUP * 16);
  const bindGroup = gpu.bindGroup('probe.fma', pipeline, [sink]);
  try {
    return await timeEncoded(gpu, () => gpu.dispatch('probe.fma', pipeline, bindGroup, workgroups), policy);
  } finally {
    gpu.destroyBuffer(sink);
  }
}

/** bytes must be a multiple of 16 · 64 · COPY_VECTORS (8 KiB). */
async function timeCopy(gpu: Gpu, bytes: number, policy: TimingPolicy): Promise<Timing> {
  const pipeline = await gpu.pipeline('bench.copy', COPY_PROBE, 'copy');
  const source = gpu.createBuffer('probe.source', bytes);
  const target = gpu.createBuffer('probe.target', bytes);
  const bindGroup = gpu.bindGroup('probe.copy', pipeline, [source, target]);
  const workgroups = bytes / (16 * PROBE_WORKGROUP * COPY_VECTORS);
  try {
    return await timeEncoded(gpu, () => gpu.dispatch('probe.copy', pipeline, bindGroup, workgroups), policy);
  } finally {
    gpu.destroyBuffer(source);
    gpu.destroyBuffer(target);
  }
}
