// Error types the engine throws. Each names what failed and, where known, the kernel.

/** A WebGPU validation, out-of-memory or internal error raised while a kernel ran. */
export class GpuKernelError extends Error {
  constructor(
    readonly kernel: string,
    message: string,
  ) {
    super(`kernel '${kernel}' failed on the GPU: ${message}`);
    this.name = 'GpuKernelError';
  }
}

/** The GPUDevice was lost (driver reset, device.destroy(), tab backgrounded too long). */
export class DeviceLostError extends Error {
  constructor(
    readonly reason: string,
    detail: string,
    readonly during: string,
  ) {
    super(
      `WebGPU device lost (reason: ${reason || 'unknown'}${detail ? `, ${detail}` : ''}) during ${during}; ` +
        'create a new device and reload the model from its last checkpoint',
    );
    this.name = 'DeviceLostError';
  }
}

/** No usable WebGPU adapter, or one that lacks a limit or feature the engine needs. */
export class AdapterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdapterError';
  }
}

/** A tensor's shape, size or contents do not match what an op expects. */
export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}
