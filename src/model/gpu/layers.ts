// Differentiable layers of the GPU model, each forward next to the backward it records:
// linear layers along the hidden axis and along the sequence axis, RMSNorm and SwiGLU.
import type { Tensor } from '../../autograd/tape.js';
import type { StorageBinding } from '../../gpu/gpu.js';
import { BatchSum } from '../../kernels/batch-sum.js';
import { linearForwardPlan, linearInputGradPlan, linearWeightGradPlan, Matmul, type MatmulPlan } from '../../kernels/matmul.js';
import { RmsNormBackward, RmsNormForward, rmsNormSizes, type RmsNormShape } from '../../kernels/rmsnorm.js';
import { SwigluBackward, SwigluForward, swigluSizes, type SwigluShape } from '../../kernels/swiglu.js';
import type { ModelContext, Parameter } from './context.js';

/** Records one matrix product, creating its op on first use. */
export async function matmul(m: ModelContext, name: string, plan: MatmulPlan, buffers: { a: StorageBinding; b: StorageBinding; c: StorageBinding }): Promise<void> {
  const op = await m.arena.op(name, plan, [buffers.a, buffers.b, buffers.c], () => Matmul.create(m.gpu, name, plan, buffers));
  op.encode();
}

/** Returns whether a layer with input x and weight w produces an output that needs a gradient. */
function needsGrad(m: ModelContext, x: Tensor, w: Parameter): boolean {
  return m.tape.needsGrad(x, { requiresGrad: w.grad !== null });
}

/** Y [rows, out] = X [rows, in] · Wᵀ for W [out, in]: torch's nn.Linear without bias. */
export async function linear(m: ModelContext, x: Tensor, w: Parameter): Promise<Tensor> {
  const [outFeatures, inFeatures] = w.shape;
  const rows = x.size / inFeatures;
  const y = m.tape.tensor(w.name, [rows, outFeatures], needsGrad(m, x, w));
  await matmul(m, `${w.name} forward`, linearForwardPlan(rows, outFeatures, inFeatures), { a: x.data, b: w.data, c: y.data });

  m.tape.record(y, [x], async (dY) => {
    if (x.requiresGrad) {
      const dX = m.tape.gradFor(x);
      await matmul(m, `${w.name} input grad`, linearInputGradPlan(rows, outFeatures, inFeatures), { a: dY.data, b: w.data, c: dX.data });
      await m.tape.addGrad(x, dX);
    }
    if (w.grad) await matmul(m, `${w.name} weight grad`, linearWeightGradPlan(rows, outFeatures, inFeatures), { a: dY.data, b: x.data, c: w.grad });
  });
  return y;
}

/**
 * Y[b] [out, channels] = W [out, in] · X[b] [in, channels] for every sample b: a linear layer
 * along the sequence axis of X [batch, in, channels], as the token-mixing MLP applies its
 * weights to the transpose [batch, channels, in] without moving any data.
 */
export async function sequenceLinear(m: ModelContext, x: Tensor, w: Parameter, channels: number): Promise<Tensor> {
  const [outLength, inLength] = w.shape;
  const batch = x.size / (inLength * channels);
  const y = m.tape.tensor(w.name, [batch, outLength, channels], needsGrad(m, x, w));
  const forward: MatmulPlan = {
    ...linearForwardPlan(outLength, channels, inLength),
    batch,
    aStrideM: inLength, aStrideK: 1,
    bStrideK: channels, bStrideN: 1, bStrideBatch: inLength * channels,
  };
  await matmul(m, `${w.name} forward`, forward, { a: w.data, b: x.data, c: y.data });

  m.tape.record(y, [x], async (dY) => {
    if (x.requiresGrad) {
      // dX[b] [in, channels] = Wᵀ · dY[b].
      const inputGrad: MatmulPlan = { ...forward, M: inLength, K: outLength, aStrideM: 1, aStrideK: inLength, bStrideBatch: outLength * channels };
      const dX = m.tape.gradFor(x);
      await matmul(m, `${w.name} input grad`, inputGrad, { a: w.data, b: dY.data, c: dX.data });
      await m.tape.addGrad(x, dX);
    }
    if (w.grad) await sequenceWeightGrad(m, w, x, dY, { batch, inLength, outLength, channels });
  });
  return y;
}

/**
 * dW += Σ_b dY[b] · X[b]ᵀ. The sum runs over samples and channels, two axes that no single
 * matmul stride spans, so a batched product writes one [out, in] matrix per sample to a pooled
 * scratch buffer and BatchSum adds them into dW.
 */
async function sequenceWeightGrad(m: ModelContext, w: Parameter, x: Tensor, dY: Tensor, dims: { batch: number; inLength: number; outLength: number; channels: number }): Promise<void> {
  const { batch, inLength, outLength, channels } = dims;
  const plan: MatmulPlan = {
    ...linearForwardPlan(outLength, inLength, channels),
    batch,
    aStrideM: channels, aStrideK: 1, aStrideBatch: outLength * channels,
    bStrideK: 1, bStrideN: channels, bStrideBatch: inLength * channels,
  };
  const perSample = m.arena.acquire(`${w.name} weight grad per sample`, batch * outLength * inLength);
  await matmul(m, `${w.name} weight grad per sample`, plan, { a: dY.data, b: x.data, c: perSample });

  const shape = { batch, length: outLength * inLength };
  const name = `${w.name} weight grad`;
  const grad = w.grad as StorageBinding;
  const sum = await m.arena.op(name, shape, [perSample, grad], () => BatchSum.create(m.gpu, name, shape, { x: perSample, out: grad }));
  sum.encode();
  m.arena.release(perSample);
}

/** RMSNorm without gain over the axis `shape` names; saves y and rstd for the backward pass. */
export async function rmsNorm(m: ModelContext, label: string, x: Tensor, shape: RmsNormShape): Promise<Tensor> {
  const y = m.tape.tensor(label, x.shape, m.tape.needsGrad(x));
  const rstd = m.tape.tensor(`${label}.rstd`, [rmsNormSizes(shape).rstd]);
  const forward = await m.arena.op(`${label} forward`, shape, [x.data, y.data, rstd.data], () =>
    RmsNormForward.create(m.gpu, `${label} forward`, shape, { x: x.data, y: y.data, rstd: rstd.data }),
  );
  forward.encode();

  m.tape.record(y, [y, rstd], async (dY) => {
    const dX = m.tape.gradFor(x);
    const buffers = { dY: dY.data, y: y.data, rstd: rstd.data, dX: dX.data };
    const backward = await m.arena.op(`${label} backward`, shape, Object.values(buffers), () => RmsNormBackward.create(m.gpu, `${label} backward`, shape, buffers));
    backward.encode();
    await m.tape.addGrad(x, dX);
  });
  m.tape.dispose(rstd);
  return y;
}

/** silu(gate) ⊙ up over the fused projection's output, in the layout `shape` gives; saves gateUp. */
export async function swiglu(m: ModelContext, label: string, gateUp: Tensor, shape: SwigluShape): Promise<Tensor> {
  const hidden = m.tape.tensor(label, [swigluSizes(shape).hidden], m.tape.needsGrad(gateUp));
  const forward = await m.arena.op(`${label} forward`, shape, [gateUp.data, hidden.data], () =>
    SwigluForward.create(m.gpu, `${label} forward`, shape, { gateUp: gateUp.data, hidden: hidden.data }),
  );
  forward.encode();

  m.tape.record(hidden, [gateUp], async (dHidden) => {
    const dGateUp = m.tape.gradFor(gateUp);
    const buffers = { gateUp: gateUp.data, dHidden: dHidden.data, dGateUp: dGateUp.data };
    const backward = await m.arena.op(`${label} backward`, shape, Object.values(buffers), () => SwigluBackward.create(m.gpu, `${label} backward`, shape, buffers));
    backward.encode();
    await m.tape.addGrad(gateUp, dGateUp);
  });
  return hidden;
}
