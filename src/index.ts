export { createGpu, requestDevice, describeAdapter, REQUIRED_LIMITS, type CreateGpuOptions } from './gpu/device.js';
export { Gpu, type AdapterSummary, type AdapterKind } from './gpu/gpu.js';
export { AdapterError, DeviceLostError, GpuKernelError, ShapeError } from './gpu/errors.js';
export { setDebugLevel, setLogSink, debugLevel } from './log.js';
