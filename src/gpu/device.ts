// The single entry point for getting a ready GPUDevice, in a browser or in Node.
import { log } from '../log.js';
import { AdapterError } from './errors.js';
import { Gpu, type AdapterKind, type AdapterSummary } from './gpu.js';

export interface CreateGpuOptions {
  /** A device the application already has; the engine then uses it as it is. */
  device?: GPUDevice;
  powerPreference?: GPUPowerPreference;
}

/**
 * Limits below which the engine cannot run its kernels. The values are WebGPU's defaults,
 * so any conforming adapter passes; they are requested explicitly so a device handed in by an
 * application is checked against them too.
 */
export const REQUIRED_LIMITS = {
  maxStorageBuffersPerShaderStage: 8,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupStorageSize: 16384,
  maxStorageBufferBindingSize: 128 * 1024 * 1024,
} as const;

/** Features used when present; none is required. */
const OPTIONAL_FEATURES: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query'];

const NO_ADAPTER_HELP =
  'no WebGPU adapter found. On a machine with a GPU, install its Vulkan (Linux), Metal (macOS) or ' +
  'D3D12 (Windows) driver. On a machine without one, install Chromium (Debian: apt-get install chromium), ' +
  'which ships the SwiftShader software driver, or Mesa lavapipe (apt-get install mesa-vulkan-drivers); ' +
  'TRM_VULKAN_ICD=/path/to/icd.json picks a Vulkan driver explicitly';

const NO_ADAPTER_HELP_NODE = `${NO_ADAPTER_HELP}. Dawn in Node also needs the system Vulkan loader (Debian: apt-get install libvulkan1)`;
const NO_ADAPTER_HELP_BROWSER = `${NO_ADAPTER_HELP}. In Chrome, WebGPU also needs a secure context (https or localhost)`;

/** Creates (or adopts) a GPUDevice and wraps it for the engine. Logs the adapter once. */
export async function createGpu(options: CreateGpuOptions = {}): Promise<Gpu> {
  if (options.device) return adoptDevice(options.device);

  const runtime = inBrowser() ? 'browser' : 'node';
  const gpu = runtime === 'browser' ? navigator.gpu : await (await import('./node-gpu.js')).nodeGpu();
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) throw new AdapterError(runtime === 'browser' ? NO_ADAPTER_HELP_BROWSER : NO_ADAPTER_HELP_NODE);

  checkLimits(adapter.limits, 'adapter');
  const features = OPTIONAL_FEATURES.filter((name) => adapter.features.has(name));
  const device = await adapter.requestDevice({
    label: 'trm',
    requiredFeatures: features,
    requiredLimits: {
      maxStorageBuffersPerShaderStage: Math.min(adapter.limits.maxStorageBuffersPerShaderStage, 10),
      maxComputeInvocationsPerWorkgroup: REQUIRED_LIMITS.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: REQUIRED_LIMITS.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupStorageSize: REQUIRED_LIMITS.maxComputeWorkgroupStorageSize,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  });

  const summary = summarize(adapterInfo(adapter), adapter, runtime, features);
  log(1, describeAdapter(summary));
  return new Gpu(device, summary);
}

/** Returns a ready GPUDevice; createGpu gives the engine's wrapper around it. */
export async function requestDevice(options: CreateGpuOptions = {}): Promise<GPUDevice> {
  return (await createGpu(options)).device;
}

export function describeAdapter(summary: AdapterSummary): string {
  const name = [summary.vendor, summary.architecture, summary.device].filter(Boolean).join(' / ') || 'unknown';
  const fallback = summary.isFallbackAdapter ? 'fallback adapter' : 'not a fallback adapter';
  const features = summary.features.length ? summary.features.join(', ') : 'no optional features';
  return `adapter (${summary.runtime}): ${name}; ${summary.description || 'no description'}; ${summary.kind}; ${fallback}; ${features}`;
}

function adoptDevice(device: GPUDevice): Gpu {
  checkLimits(device.limits, 'the GPUDevice passed in');
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const features = OPTIONAL_FEATURES.filter((name) => device.features.has(name));
  const summary = summarize(info, null, inBrowser() ? 'browser' : 'node', features);
  log(1, describeAdapter(summary));
  return new Gpu(device, summary);
}

function checkLimits(limits: GPUSupportedLimits, owner: string): void {
  for (const [name, needed] of Object.entries(REQUIRED_LIMITS)) {
    const available = limits[name as keyof GPUSupportedLimits] as number;
    if (available < needed) {
      throw new AdapterError(`${owner} supports ${name} = ${available}, but the engine needs at least ${needed}`);
    }
  }
}

function adapterInfo(adapter: GPUAdapter): GPUAdapterInfo | undefined {
  return (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
}

function summarize(info: GPUAdapterInfo | undefined, adapter: GPUAdapter | null, runtime: 'browser' | 'node', features: string[]): AdapterSummary {
  const vendor = info?.vendor ?? '';
  const architecture = info?.architecture ?? '';
  const deviceName = info?.device ?? '';
  const description = info?.description ?? '';
  const infoFallback = (info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined)?.isFallbackAdapter;
  const adapterFallback = (adapter as (GPUAdapter & { isFallbackAdapter?: boolean }) | null)?.isFallbackAdapter;
  const isFallbackAdapter = Boolean(infoFallback ?? adapterFallback ?? false);
  const subgroupMinSize = info?.subgroupMinSize ?? 0;
  const subgroupMaxSize = info?.subgroupMaxSize ?? 0;
  const text = `${vendor} ${architecture} ${deviceName} ${description}`;
  const kind: AdapterKind = isFallbackAdapter || /swiftshader|llvmpipe|lavapipe|software|warp/i.test(text) ? 'software' : 'gpu';
  return { runtime, vendor, architecture, device: deviceName, description, isFallbackAdapter, kind, features, subgroupMinSize, subgroupMaxSize };
}

function inBrowser(): boolean {
  return typeof navigator !== 'undefined' && 'gpu' in navigator && typeof window !== 'undefined';
}
