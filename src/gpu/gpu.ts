// The engine's handle on one GPUDevice: pipeline cache, buffer helpers, command recording,
// and the places where WebGPU's asynchronous errors are turned into thrown errors.
import { log } from '../log.js';
import { DeviceLostError, GpuKernelError, ShapeError } from './errors.js';

export type AdapterKind = 'gpu' | 'software';

/** What the engine learned about the adapter, logged once when the device is created. */
export interface AdapterSummary {
  runtime: 'browser' | 'node';
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  kind: AdapterKind;
  features: string[];
  /** Invocations per subgroup as the adapter reports them; 0 when it does not. */
  subgroupMinSize: number;
  subgroupMaxSize: number;
}

export type StorageBinding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/** The largest workgroup count WebGPU allows in one dimension (the spec's default limit). */
const MAX_WORKGROUPS_PER_DIMENSION = 65535;

export class Gpu {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly pending = new Set<Promise<void>>();
  private lostInfo: GPUDeviceLostInfo | null = null;
  private uncaptured: GpuKernelError | null = null;
  private encoder: GPUCommandEncoder | null = null;
  private bytesAllocated = 0;
  dispatchCount = 0;
  submitCount = 0;

  constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterSummary,
  ) {
    device.lost.then((info) => {
      this.lostInfo = info;
      if (info.reason !== 'destroyed') log(0, `device lost: ${info.reason} ${info.message}`);
    });
    device.addEventListener('uncapturederror', this.onUncapturedError);
  }

  private readonly onUncapturedError = (event: Event): void => {
    const error = (event as GPUUncapturedErrorEvent).error;
    this.uncaptured ??= new GpuKernelError(kernelNameFrom(error.message), error.message);
  };

  get isSoftware(): boolean {
    return this.adapter.kind === 'software';
  }

  /** Bytes currently held by buffers created through this object. */
  get allocatedBytes(): number {
    return this.bytesAllocated;
  }

  /** Throws the first error the device reported since the last check, or a lost device. */
  throwIfFailed(during: string): void {
    if (this.lostInfo) throw new DeviceLostError(this.lostInfo.reason, this.lostInfo.message, during);
    const error = this.uncaptured;
    if (error) {
      this.uncaptured = null;
      throw error;
    }
  }

  /**
   * Returns the compute pipeline for one kernel, compiling it on first use. Compilation
   * errors reject with the kernel's name and the compiler's messages.
   */
  async pipeline(name: string, code: string, entryPoint: string, constants: Record<string, number> = {}): Promise<GPUComputePipeline> {
    const key = `${name}|${entryPoint}|${JSON.stringify(constants)}`;
    const cached = this.pipelines.get(key);
    if (cached) return cached;

    const module = this.device.createShaderModule({ label: name, code });
    let pipeline: GPUComputePipeline;
    try {
      pipeline = await this.device.createComputePipelineAsync({
        label: name,
        layout: 'auto',
        compute: { module, entryPoint, constants },
      });
    } catch (cause) {
      const info = await module.getCompilationInfo();
      const messages = info.messages.map((m) => `${m.type} at ${m.lineNum}:${m.linePos}: ${m.message}`).join('\n');
      throw new GpuKernelError(name, `pipeline creation failed: ${(cause as Error).message}\n${messages}`);
    }

    log(2, `compiled ${key}`);
    this.pipelines.set(key, pipeline);
    return pipeline;
  }

  createBuffer(label: string, bytes: number, usage: GPUBufferUsageFlags = STORAGE_USAGE): GPUBuffer {
    const size = Math.max(16, align(bytes, 16));
    if (size > this.device.limits.maxBufferSize) {
      throw new ShapeError(
        `buffer '${label}' needs ${size} bytes, more than this device's maxBufferSize of ` +
          `${this.device.limits.maxBufferSize}; use a smaller batch`,
      );
    }
    const buffer = this.device.createBuffer({ label, size, usage });
    this.bytesAllocated += size;
    log(2, `allocated ${label}: ${size} bytes`);
    return buffer;
  }

  destroyBuffer(buffer: GPUBuffer): void {
    this.bytesAllocated -= buffer.size;
    buffer.destroy();
  }

  upload(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.device.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Uploads data into a new storage buffer. */
  createBufferFrom(label: string, data: ArrayBufferView): GPUBuffer {
    const buffer = this.createBuffer(label, data.byteLength);
    this.upload(buffer, data);
    return buffer;
  }

  createUniform(label: string, words: ArrayLike<number>, types: string): GPUBuffer {
    const data = packUniform(words, types);
    const buffer = this.createBuffer(label, data.byteLength, BufferUsage.UNIFORM | BufferUsage.COPY_DST);
    this.upload(buffer, data);
    return buffer;
  }

  /**
   * Creates a bind group for group 0 of a pipeline, checking every storage binding against
   * the device's maxStorageBufferBindingSize so an oversized tensor fails here, by name.
   */
  bindGroup(kernel: string, pipeline: GPUComputePipeline, bindings: StorageBinding[]): GPUBindGroup {
    const limit = this.device.limits.maxStorageBufferBindingSize;
    const entries = bindings.map((binding, index) => {
      const resource = 'buffer' in binding ? binding : { buffer: binding };
      const size = resource.size ?? resource.buffer.size - (resource.offset ?? 0);
      if (size > limit && (resource.buffer.usage & BufferUsage.STORAGE) !== 0) {
        throw new ShapeError(
          `kernel '${kernel}' binding ${index} ('${resource.buffer.label}') is ${size} bytes, ` +
            `more than this device's maxStorageBufferBindingSize of ${limit}; split the batch`,
        );
      }
      return { binding: index, resource };
    });
    return this.device.createBindGroup({ label: kernel, layout: pipeline.getBindGroupLayout(0), entries });
  }

  /**
   * Records one dispatch into the current command encoder. Counts above 65535 in x are
   * folded into y; shaders recover the flat index from workgroup_id and num_workgroups.
   */
  dispatch(kernel: string, pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, workgroups: number | [number, number, number]): void {
    const [x, y, z] = typeof workgroups === 'number' ? foldWorkgroups(workgroups) : workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    if (x > MAX_WORKGROUPS_PER_DIMENSION || y > MAX_WORKGROUPS_PER_DIMENSION || z > MAX_WORKGROUPS_PER_DIMENSION) {
      throw new ShapeError(`kernel '${kernel}' needs workgroups [${x}, ${y}, ${z}]; each dimension is limited to 65535`);
    }

    this.encoder ??= this.device.createCommandEncoder({ label: 'trm step' });
    const pass = this.encoder.beginComputePass({ label: kernel });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
    this.dispatchCount++;
    log(3, `dispatch ${kernel} [${x}, ${y}, ${z}]`);
  }

  /** Records a buffer copy into the current command encoder. */
  copy(source: GPUBuffer, sourceOffset: number, target: GPUBuffer, targetOffset: number, bytes: number): void {
    this.encoder ??= this.device.createCommandEncoder({ label: 'trm step' });
    this.encoder.copyBufferToBuffer(source, sourceOffset, target, targetOffset, bytes);
  }

  /**
   * Submits everything recorded since the last submit as one command buffer. Validation,
   * out-of-memory and internal errors of the submission are caught in error scopes and thrown
   * by the next sync() or read(), named after the failing pass's kernel.
   */
  submit(): void {
    if (!this.encoder) return;
    const scopes: GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];
    for (const filter of scopes) this.device.pushErrorScope(filter);
    const commands = this.encoder.finish();
    this.encoder = null;
    this.device.queue.submit([commands]);
    this.submitCount++;
    for (let i = 0; i < scopes.length; i++) this.track(this.device.popErrorScope());
  }

  /** Submits pending work and waits until the GPU has finished it. */
  async sync(during = 'sync'): Promise<void> {
    this.submit();
    await this.settle(during);
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfFailed(during);
  }

  private track(scope: Promise<GPUError | null>): void {
    const settled = scope.then(
      (error) => {
        if (error) this.uncaptured ??= new GpuKernelError(kernelNameFrom(error.message), error.message);
      },
      () => undefined,
    );
    this.pending.add(settled);
    void settled.finally(() => this.pending.delete(settled));
  }

  /** Waits for the error scopes of earlier submissions, then throws what they caught. */
  private async settle(during: string): Promise<void> {
    await Promise.all(this.pending);
    this.throwIfFailed(during);
  }

  /** Copies a buffer back to the CPU, after all recorded work. */
  async read(buffer: GPUBuffer, bytes = buffer.size, offset = 0): Promise<ArrayBuffer> {
    const staging = this.device.createBuffer({
      label: `readback ${buffer.label}`,
      size: align(bytes, 4),
      usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
    });
    const during = `reading '${buffer.label}'`;
    this.throwIfFailed(during);
    this.copy(buffer, offset, staging, 0, align(bytes, 4));
    this.submit();
    await this.settle(during);
    try {
      await staging.mapAsync(MAP_MODE_READ);
    } catch (cause) {
      // A lost device rejects the mapping first and resolves device.lost a moment later.
      await Promise.race([this.device.lost, new Promise((resolve) => setTimeout(resolve, 200))]);
      this.throwIfFailed(during);
      throw new Error(`mapping '${buffer.label}' for reading failed: ${(cause as Error).message}`);
    }
    this.throwIfFailed(during);
    const copy = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    return copy;
  }

  async readFloat32(buffer: GPUBuffer, count: number, offsetElements = 0): Promise<Float32Array> {
    return new Float32Array(await this.read(buffer, count * 4, offsetElements * 4));
  }

  destroy(): void {
    this.device.destroy();
  }

  /** Stops listening to the device's errors, for a device that the application keeps using. */
  detach(): void {
    this.device.removeEventListener('uncapturederror', this.onUncapturedError);
  }
}

// WebGPU's flag values, spelled out so this module loads before Node's `webgpu` package has
// installed the GPUBufferUsage and GPUMapMode globals.
export const BufferUsage = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 } as const;
const MAP_MODE_READ = 0x1;
export const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

export function align(value: number, to: number): number {
  return Math.ceil(value / to) * to;
}

/** Splits a flat workgroup count into x·y ≥ count with x ≤ 65535. */
export function foldWorkgroups(count: number): [number, number, number] {
  if (count <= MAX_WORKGROUPS_PER_DIMENSION) return [count, 1, 1];
  const y = Math.ceil(count / MAX_WORKGROUPS_PER_DIMENSION);
  const x = Math.ceil(count / y);
  return [x, y, 1];
}

/** Packs numbers into a uniform buffer: `types` has one letter per word, u (u32), i (i32) or f (f32). */
export function packUniform(words: ArrayLike<number>, types: string): Uint8Array {
  if (types.length !== words.length) throw new Error(`uniform has ${words.length} values but ${types.length} types`);
  const bytes = new ArrayBuffer(align(words.length * 4, 16));
  const view = new DataView(bytes);
  for (let i = 0; i < words.length; i++) {
    const type = types[i];
    if (type === 'u') view.setUint32(i * 4, words[i], true);
    else if (type === 'i') view.setInt32(i * 4, words[i], true);
    else view.setFloat32(i * 4, words[i], true);
  }
  return new Uint8Array(bytes);
}

/** Pulls the label of the failing pass or pipeline out of a Dawn or browser error message. */
function kernelNameFrom(message: string): string {
  const match = /\[(?:ComputePassEncoder|ComputePipeline|BindGroup|ShaderModule)[^"]*"([^"]+)"/.exec(message);
  return match ? match[1] : 'unknown';
}
