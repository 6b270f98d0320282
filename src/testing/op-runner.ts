// Runs one kernel on a device from plain host arrays and returns its outputs. The kernel test
// suite calls this in Node directly and inside a Chromium page through page.evaluate, so both
// runtimes execute exactly the same dispatch code.
import { Gpu } from '../gpu/gpu.js';
import { fromWire, toWire, type WireTensor } from './wire.js';
import type { OpHandler, OpOutputs, OpRequest } from './ops/common.js';
import { attentionOps } from './ops/attention.js';
import { embeddingOps } from './ops/embedding.js';
import { faultOps } from './ops/faults.js';
import { lossesOps } from './ops/losses.js';
import { matmulOps } from './ops/matmul.js';
import { mlpOps } from './ops/mlp.js';
import { modelOps } from './ops/model.js';
import { optimizerOps } from './ops/optimizer.js';

export type { OpOutputs, OpRequest } from './ops/common.js';

export interface WireOpRequest {
  op: string;
  params: Record<string, unknown>;
  inputs: Record<string, WireTensor>;
}

const handlers: Record<string, OpHandler> = {
  ...matmulOps,
  ...mlpOps,
  ...attentionOps,
  ...lossesOps,
  ...embeddingOps,
  ...optimizerOps,
  ...modelOps,
  ...faultOps,
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
