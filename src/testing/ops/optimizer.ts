import type { Gpu } from '../../gpu/gpu.js';
import { checkIds } from '../../kernels/embedding.js';
import { Adam, Ema, SignSgd, type AdamSettings, type SignSgdShape } from '../../kernels/optimizer.js';
import { withInputBuffers, type OpHandler } from './common.js';

interface ScheduledStep {
  step: number;
  lr: number;
}

export const optimizerOps: Record<string, OpHandler> = {
  /**
   * Several Adam steps, one submit each. inputs param, m, v (P or more elements), grads
   * [steps, P]; params settings, schedule (one {step, lr} per step), count (P, default the
   * length of param; a smaller count shows whether elements past P stay untouched); outputs
   * param, m, v at their input lengths.
   */
  'optimizer.adam': (gpu, request) => {
    const { param, m, v, grads } = request.inputs;
    const count = (request.params.count as number | undefined) ?? param.length;
    const grad = new Float32Array(param.length);
    return withInputBuffers(gpu, { param, m, v, grad }, async (buffers) => {
      const bindings = { param: buffers.param, grad: buffers.grad, m: buffers.m, v: buffers.v };
      const adam = await Adam.create(gpu, 'optimizer.adam', count, bindings, request.params.settings as AdamSettings);
      for (const [index, { step, lr }] of (request.params.schedule as ScheduledStep[]).entries()) {
        gpu.upload(buffers.grad, grads.subarray(index * count, (index + 1) * count));
        adam.setStep(step, lr);
        adam.encode();
        gpu.submit();
      }
      const outputs = {
        param: await gpu.readFloat32(buffers.param, param.length),
        m: await gpu.readFloat32(buffers.m, param.length),
        v: await gpu.readFloat32(buffers.v, param.length),
      };
      adam.destroy();
      return outputs;
    });
  },

  /**
   * One Adam step over params.count elements built on the device by repeating each input
   * pattern (param, grad, m, v) cyclically, so a large P never crosses the wire. params
   * settings, count, step, lr, windows ([start, length] pairs); outputs param, m, v, each
   * the windows' elements concatenated.
   */
  'optimizer.adam.tiled': async (gpu, request) => {
    const count = request.params.count as number;
    const buffers = {
      param: createTiledBuffer(gpu, 'param', request.inputs.param, count),
      grad: createTiledBuffer(gpu, 'grad', request.inputs.grad, count),
      m: createTiledBuffer(gpu, 'm', request.inputs.m, count),
      v: createTiledBuffer(gpu, 'v', request.inputs.v, count),
    };
    try {
      const adam = await Adam.create(gpu, 'optimizer.adam.tiled', count, buffers, request.params.settings as AdamSettings);
      adam.setStep(request.params.step as number, request.params.lr as number);
      adam.encode();
      const windows = request.params.windows as [number, number][];
      const outputs = {
        param: await readWindows(gpu, buffers.param, windows),
        m: await readWindows(gpu, buffers.m, windows),
        v: await readWindows(gpu, buffers.v, windows),
      };
      adam.destroy();
      return outputs;
    } finally {
      for (const buffer of Object.values(buffers)) gpu.destroyBuffer(buffer);
    }
  },

  /**
   * Several EMA steps. inputs shadow (P or more elements), params [steps, P]; params rate,
   * count (as for optimizer.adam); outputs shadow at its input length.
   */
  'optimizer.ema': (gpu, request) => {
    const { shadow, params } = request.inputs;
    const count = (request.params.count as number | undefined) ?? shadow.length;
    const param = new Float32Array(shadow.length);
    return withInputBuffers(gpu, { shadow, param }, async (buffers) => {
      const bindings = { shadow: buffers.shadow, param: buffers.param };
      const ema = await Ema.create(gpu, 'optimizer.ema', count, bindings, request.params.rate as number);
      for (let index = 0; index * count < params.length; index++) {
        gpu.upload(buffers.param, params.subarray(index * count, (index + 1) * count));
        ema.encode();
        gpu.submit();
      }
      const result = await gpu.readFloat32(buffers.shadow, shadow.length);
      ema.destroy();
      return { shadow: result };
    });
  },

  /**
   * Several sparse SignSGD steps. inputs table [rows, hidden], grads [steps, batch, hidden],
   * ids [steps, batch] i32; params shape, weightDecay, lrs (one per step), checkIds (default
   * true); outputs table.
   */
  'optimizer.signSgd': (gpu, request) => {
    const shape = request.params.shape as SignSgdShape;
    const { table, grads, ids } = request.inputs;
    if (request.params.checkIds !== false) checkIds('optimizer.signSgd', 'ids', ids, shape.rows);
    const batchGrads = new Float32Array(shape.batch * shape.hidden);
    const batchIds = new Int32Array(shape.batch);
    return withInputBuffers(gpu, { table, grads: batchGrads, ids: batchIds }, async (buffers) => {
      const bindings = { table: buffers.table, grads: buffers.grads, ids: buffers.ids };
      const sgd = await SignSgd.create(gpu, 'optimizer.signSgd', shape, bindings, request.params.weightDecay as number);
      for (const [index, lr] of (request.params.lrs as number[]).entries()) {
        gpu.upload(buffers.grads, grads.subarray(index * batchGrads.length, (index + 1) * batchGrads.length));
        gpu.upload(buffers.ids, ids.subarray(index * shape.batch, (index + 1) * shape.batch));
        sgd.setLearningRate(lr);
        sgd.encode();
        gpu.submit();
      }
      const result = await gpu.readFloat32(buffers.table, table.length);
      sgd.destroy();
      return { table: result };
    });
  },
};

/** Creates a [count] buffer whose element i is pattern[i % pattern.length]. */
function createTiledBuffer(gpu: Gpu, label: string, pattern: ArrayLike<number>, count: number): GPUBuffer {
  const buffer = gpu.createBuffer(label, count * 4);
  const chunk = new Float32Array(pattern.length * Math.ceil(2 ** 20 / pattern.length));
  for (let i = 0; i < chunk.length; i++) chunk[i] = pattern[i % pattern.length];
  for (let start = 0; start < count; start += chunk.length) {
    gpu.upload(buffer, chunk.subarray(0, Math.min(chunk.length, count - start)), start * 4);
  }
  return buffer;
}

async function readWindows(gpu: Gpu, buffer: GPUBuffer, windows: [number, number][]): Promise<Float32Array> {
  const parts = [];
  for (const [start, length] of windows) parts.push(await gpu.readFloat32(buffer, length, start));
  const out = new Float32Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
