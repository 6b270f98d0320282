// The adapter's f32 FMA peak and copy bandwidth, measured by the probes in shaders/probe.wgsl.
import { wgslSources } from '../src/generated/wgsl.js';
import type { Gpu } from '../src/gpu/gpu.js';
import { timeEncoded, type TimingOptions } from './timing.js';

const PROBE_WORKGROUP = 64;
const FMA_FLOPS_PER_INVOCATION = 2 * 32 * 512;

export async function measureFmaPeak(gpu: Gpu, workgroups: number, timing: TimingOptions): Promise<number> {
  const pipeline = await gpu.pipeline('probe.fma', wgslSources.probe, 'fma_peak');
  const sink = gpu.createBuffer('probe.sink', workgroups * PROBE_WORKGROUP * 16);
  const bindGroup = gpu.bindGroup('probe.fma', pipeline, [sink]);
  const seconds = await timeEncoded(gpu, () => gpu.dispatch('probe.fma', pipeline, bindGroup, workgroups), timing);
  gpu.destroyBuffer(sink);
  return (workgroups * PROBE_WORKGROUP * FMA_FLOPS_PER_INVOCATION) / seconds / 1e9;
}

/** Copy bandwidth in GB/s, counting bytes read plus bytes written. */
export async function measureCopyBandwidth(gpu: Gpu, bytes: number, timing: TimingOptions): Promise<number> {
  const pipeline = await gpu.pipeline('probe.copy', wgslSources.probe, 'copy');
  const source = gpu.createBuffer('probe.source', bytes);
  const target = gpu.createBuffer('probe.target', bytes);
  const bindGroup = gpu.bindGroup('probe.copy', pipeline, [source, target]);
  const workgroups = Math.ceil(bytes / 16 / PROBE_WORKGROUP);
  const seconds = await timeEncoded(gpu, () => gpu.dispatch('probe.copy', pipeline, bindGroup, workgroups), timing);
  gpu.destroyBuffer(source);
  gpu.destroyBuffer(target);
  return (2 * bytes) / seconds / 1e9;
}
