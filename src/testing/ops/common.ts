// Shared pieces of the op handlers that the kernel tests call through runOp.
import type { Gpu } from '../../gpu/gpu.js';
import type { TypedData } from '../wire.js';

export interface OpRequest {
  op: string;
  params: Record<string, unknown>;
  inputs: Record<string, TypedData>;
}

export type OpOutputs = Record<string, TypedData>;

/** Runs one op on the device: uploads request.inputs, dispatches, reads the outputs back. */
export type OpHandler = (gpu: Gpu, request: OpRequest) => Promise<OpOutputs>;

/**
 * Uploads every input into its own storage buffer (labelled with its name), calls body, and
 * destroys the buffers afterwards, also when body throws.
 */
export async function withInputBuffers<T>(gpu: Gpu, inputs: Record<string, TypedData>, body: (buffers: Record<string, GPUBuffer>) => Promise<T>): Promise<T> {
  const buffers: Record<string, GPUBuffer> = {};
  for (const [name, data] of Object.entries(inputs)) buffers[name] = gpu.createBufferFrom(name, data);
  try {
    return await body(buffers);
  } finally {
    for (const buffer of Object.values(buffers)) gpu.destroyBuffer(buffer);
  }
}

export async function readFloat32(gpu: Gpu, buffer: GPUBuffer, count: number): Promise<Float32Array> {
  return gpu.readFloat32(buffer, count);
}

export async function readInt32(gpu: Gpu, buffer: GPUBuffer, count: number): Promise<Int32Array> {
  return new Int32Array(await gpu.read(buffer, count * 4));
}
