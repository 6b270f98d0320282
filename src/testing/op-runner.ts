// Runs one kernel on a device from plain host arrays and returns its outputs. The kernel test
// suite calls this in Node directly and inside a Chromium page through page.evaluate, so both
// runtimes execute exactly the same dispatch code.
import { Gpu } from '../gpu/gpu.js';
import { Matmul, type MatmulPlan, type MatmulVariant } from '../kernels/matmul.js';
import { fromWire, toWire, type TypedData, type WireTensor } from './wire.js';

export interface OpRequest {
  op: string;
  params: Record<string, unknown>;
  inputs: Record<string, TypedData>;
}

export type OpOutputs = Record<string, TypedData>;

export interface WireOpRequest {
  op: string;
  params: Record<string, unknown>;
  inputs: Record<string, WireTensor>;
}

type OpHandler = (gpu: Gpu, request: OpRequest) => Promise<OpOutputs>;

const handlers: Record<string, OpHandler> = {
  matmul: runMatmul,
};

export async function runOp(gpu: Gpu, request: OpRequest): Promise<OpOutputs> {
  const handler = handlers[request.op];
  if (!handler) throw new Error(`unknown op '${request.op}'; known ops: ${Object.keys(handlers).join(', ')}`);
  return handler(gpu, request);
}

/** runOp over base64-encoded tensors, for callers on the other side of page.evaluate. */
export async function runWireOp(gpu: Gpu, request: WireOpRequest): Promise<Record<string, WireTensor>> {
  const inputs = Object.fromEntries(Object.entries(request.inputs).map(([name, wire]) => [name, fromWire(wire)]));
  const outputs = await runOp(gpu, { op: request.op, params: request.params, inputs });
  return Object.fromEntries(Object.entries(outputs).map(([name, data]) => [name, toWire(data)]));
}

async function runMatmul(gpu: Gpu, request: OpRequest): Promise<OpOutputs> {
  const plan = request.params.plan as MatmulPlan;
  const variant = request.params.variant as MatmulVariant;
  const a = gpu.createBufferFrom('a', request.inputs.a);
  const b = gpu.createBufferFrom('b', request.inputs.b);
  const c = gpu.createBufferFrom('c', request.inputs.c);
  const matmul = await Matmul.create(gpu, `matmul.${variant}`, plan, { a, b, c }, variant);
  matmul.encode();
  const result = await gpu.readFloat32(c, request.inputs.c.length);
  matmul.destroy();
  for (const buffer of [a, b, c]) gpu.destroyBuffer(buffer);
  return { c: result };
}
