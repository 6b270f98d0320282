// Op handlers for the MLP kernels: SwiGLU, RMSNorm, and the elementwise ops and sum.
//
// Every output is bound at a 256-byte offset inside a larger buffer, with 64 sentinel values
// before and after it. Each handler returns the output as `<name>` and those 128 guard values
// as `<name>Guard`, so a test can tell a write outside the binding from a wrong value. An
// output the op should overwrite starts as sentinels too; one it updates (axpy's out) starts
// as the input of that name.
import type { Gpu, StorageBinding } from '../../gpu/gpu.js';
import { Add, Add3, Axpy, Copy, Fill, Scale, Sum, type ElementwiseShape } from '../../kernels/elementwise.js';
import { RmsNormBackward, RmsNormForward, rmsNormSizes, type RmsNormShape, type RmsNormVariant } from '../../kernels/rmsnorm.js';
import { SwigluBackward, SwigluForward, swigluSizes, type SwigluShape } from '../../kernels/swiglu.js';
import type { TypedData } from '../wire.js';
import { withInputBuffers, type OpHandler, type OpOutputs, type OpRequest } from './common.js';

/** Sentinel elements on each side of an output: 256 bytes, the storage binding offset alignment. */
export const GUARD_ELEMENTS = 64;
/** Value of the guard elements and of outputs before the op runs. */
export const OUTPUT_SENTINEL = Math.fround(-3.25e30);

/** Returns the indices of guard values that differ from the sentinel: writes outside the binding. */
export function clobberedGuards(guard: ArrayLike<number>): number[] {
  const clobbered: number[] = [];
  for (let i = 0; i < guard.length; i++) if (guard[i] !== OUTPUT_SENTINEL) clobbered.push(i);
  return clobbered;
}

interface BoundOp {
  encode(): void;
  destroy(): void;
}

interface GuardedOutput {
  binding: StorageBinding;
  buffer: GPUBuffer;
  length: number;
}

function createGuardedOutput(gpu: Gpu, label: string, length: number, initial?: TypedData): GuardedOutput {
  const data = new Float32Array(length + 2 * GUARD_ELEMENTS).fill(OUTPUT_SENTINEL);
  if (initial) data.set(initial, GUARD_ELEMENTS);
  const buffer = gpu.createBufferFrom(label, data);
  return { buffer, length, binding: { buffer, offset: GUARD_ELEMENTS * 4, size: length * 4 } };
}

async function readGuardedOutput(gpu: Gpu, output: GuardedOutput): Promise<{ values: Float32Array; guard: Float32Array }> {
  const all = await gpu.readFloat32(output.buffer, output.length + 2 * GUARD_ELEMENTS);
  const values = all.slice(GUARD_ELEMENTS, GUARD_ELEMENTS + output.length);
  const guard = new Float32Array(2 * GUARD_ELEMENTS);
  guard.set(all.subarray(0, GUARD_ELEMENTS));
  guard.set(all.subarray(GUARD_ELEMENTS + output.length), GUARD_ELEMENTS);
  return { values, guard };
}

/**
 * Makes a handler that uploads the inputs, creates the guarded outputs named by
 * outputLengths (an input of the same name gives an output its initial contents), builds the
 * op, encodes it once, and reads every output back.
 */
function guardedOp(
  outputLengths: (params: Record<string, unknown>) => Record<string, number>,
  build: (gpu: Gpu, params: Record<string, unknown>, buffers: Record<string, StorageBinding>) => Promise<BoundOp>,
): OpHandler {
  return (gpu: Gpu, request: OpRequest) => {
    const lengths = outputLengths(request.params);
    const inputs = Object.fromEntries(Object.entries(request.inputs).filter(([name]) => !(name in lengths)));

    return withInputBuffers(gpu, inputs, async (inputBuffers) => {
      const outputs: Record<string, GuardedOutput> = {};
      let op: BoundOp | undefined;
      try {
        for (const [name, length] of Object.entries(lengths)) outputs[name] = createGuardedOutput(gpu, name, length, request.inputs[name]);
        const bindings = Object.fromEntries(Object.entries(outputs).map(([name, output]) => [name, output.binding]));
        op = await build(gpu, request.params, { ...inputBuffers, ...bindings });
        op.encode();

        const results: OpOutputs = {};
        for (const [name, output] of Object.entries(outputs)) {
          const { values, guard } = await readGuardedOutput(gpu, output);
          results[name] = values;
          results[`${name}Guard`] = guard;
        }
        return results;
      } finally {
        op?.destroy();
        for (const output of Object.values(outputs)) gpu.destroyBuffer(output.buffer);
      }
    });
  };
}

const swigluShape = (params: Record<string, unknown>) => params.shape as SwigluShape;
const rmsNormShape = (params: Record<string, unknown>) => params.shape as RmsNormShape;
const rmsNormVariant = (params: Record<string, unknown>) => params.variant as RmsNormVariant;
const elementwiseShape = (params: Record<string, unknown>) => params as unknown as ElementwiseShape & { alpha: number; value: number };
const flatOutput = (params: Record<string, unknown>) => ({ out: elementwiseShape(params).length });

export const mlpOps: Record<string, OpHandler> = {
  /** params shape (SwigluShape); inputs gateUp; outputs hidden. */
  'swiglu.forward': guardedOp(
    (params) => ({ hidden: swigluSizes(swigluShape(params)).hidden }),
    (gpu, params, buffers) => SwigluForward.create(gpu, 'swiglu.forward', swigluShape(params), { gateUp: buffers.gateUp, hidden: buffers.hidden }),
  ),

  /** params shape (SwigluShape); inputs gateUp, dHidden; outputs dGateUp. */
  'swiglu.backward': guardedOp(
    (params) => ({ dGateUp: swigluSizes(swigluShape(params)).gateUp }),
    (gpu, params, buffers) =>
      SwigluBackward.create(gpu, 'swiglu.backward', swigluShape(params), { gateUp: buffers.gateUp, dHidden: buffers.dHidden, dGateUp: buffers.dGateUp }),
  ),

  /** params shape (RmsNormShape), variant; inputs x; outputs y, rstd. */
  'rmsnorm.forward': guardedOp(
    (params) => ({ y: rmsNormSizes(rmsNormShape(params)).x, rstd: rmsNormSizes(rmsNormShape(params)).rstd }),
    (gpu, params, buffers) => RmsNormForward.create(gpu, 'rmsnorm.forward', rmsNormShape(params), { x: buffers.x, y: buffers.y, rstd: buffers.rstd }, rmsNormVariant(params)),
  ),

  /** params shape (RmsNormShape), variant; inputs dY, y, rstd; outputs dX. */
  'rmsnorm.backward': guardedOp(
    (params) => ({ dX: rmsNormSizes(rmsNormShape(params)).x }),
    (gpu, params, buffers) =>
      RmsNormBackward.create(gpu, 'rmsnorm.backward', rmsNormShape(params), { dY: buffers.dY, y: buffers.y, rstd: buffers.rstd, dX: buffers.dX }, rmsNormVariant(params)),
  ),

  /** params length; inputs a, b; outputs out = a + b. */
  'elementwise.add': guardedOp(flatOutput, (gpu, params, { a, b, out }) => Add.create(gpu, 'elementwise.add', elementwiseShape(params), { a, b, out })),

  /** params length; inputs x, y, z; outputs out = x + y + z. */
  'elementwise.add3': guardedOp(flatOutput, (gpu, params, { x, y, z, out }) => Add3.create(gpu, 'elementwise.add3', elementwiseShape(params), { x, y, z, out })),

  /** params length, alpha; inputs a; outputs out = alpha · a. */
  'elementwise.scale': guardedOp(flatOutput, (gpu, params, { a, out }) => Scale.create(gpu, 'elementwise.scale', elementwiseShape(params), { a, out })),

  /** params length, alpha; inputs a, out (initial); outputs out += alpha · a. */
  'elementwise.axpy': guardedOp(flatOutput, (gpu, params, { a, out }) => Axpy.create(gpu, 'elementwise.axpy', elementwiseShape(params), { a, out })),

  /** params length, value; outputs out = value. */
  'elementwise.fill': guardedOp(flatOutput, (gpu, params, { out }) => Fill.create(gpu, 'elementwise.fill', elementwiseShape(params), { out })),

  /** params length; inputs a; outputs out = a. */
  'elementwise.copy': guardedOp(flatOutput, (gpu, params, { a, out }) => Copy.create(gpu, 'elementwise.copy', elementwiseShape(params), { a, out })),

  /** params length; inputs x; outputs sum (one value). */
  'elementwise.sum': guardedOp(
    () => ({ sum: 1 }),
    (gpu, params, { x, sum }) => Sum.create(gpu, 'elementwise.sum', elementwiseShape(params), { x, out: sum }),
  ),
};
