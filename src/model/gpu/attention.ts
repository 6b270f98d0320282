// Self-attention sublayer of the att variant: the fused qkv projection, RoPE on q and k,
// non-causal scaled dot-product attention over all positions (prefix slots included), and the
// output projection.
import type { Tensor } from '../../autograd/tape.js';
import { AttentionBackward, AttentionForward, attentionSizes, type AttentionShape } from '../../kernels/attention.js';
import { Rope, type RopeDirection } from '../../kernels/rope.js';
import { blockTensorName } from '../parameters.js';
import type { ModelContext } from './context.js';
import { linear } from './layers.js';

/** o_proj(attention(qkv_proj(h))) for h [batch, length, hidden]. */
export async function selfAttention(m: ModelContext, block: number, h: Tensor): Promise<Tensor> {
  const qkv = await linear(m, h, m.parameter(blockTensorName(block, 'self_attn.qkv_proj.weight')));
  const heads = await attentionHeads(m, `L_level.layers.${block}.self_attn`, qkv);
  m.tape.dispose(qkv);
  return linear(m, heads, m.parameter(blockTensorName(block, 'self_attn.o_proj.weight')));
}

/**
 * softmax(q·kᵀ / sqrt(headDim))·v per head, for qkv [batch, length, 3·hidden]. RoPE rotates q
 * and k inside qkv in place, so the backward pass reads the rotated values it needs from qkv,
 * and the gradient it returns for qkv is rotated back.
 */
async function attentionHeads(m: ModelContext, label: string, qkv: Tensor): Promise<Tensor> {
  const { config, sizes, tape } = m;
  const shape: AttentionShape = { batch: m.batch, seq: sizes.totalSeqLen, heads: config.heads, headDim: config.headDim };
  const out = tape.tensor(label, [m.batch, sizes.totalSeqLen, config.hidden], tape.needsGrad(qkv));
  const logsumexp = tape.tensor(`${label}.logsumexp`, [attentionSizes(shape).logsumexp]);

  await rope(m, label, shape, qkv, 'forward');
  const buffers = { qkv: qkv.data, out: out.data, logsumexp: logsumexp.data };
  const forward = await m.arena.op(`${label} forward`, shape, Object.values(buffers), () => AttentionForward.create(m.gpu, `${label} forward`, shape, buffers));
  forward.encode();

  tape.record(out, [qkv, out, logsumexp], async (dOut) => {
    const dQkv = tape.gradFor(qkv);
    const backwardBuffers = { ...buffers, dOut: dOut.data, dqkv: dQkv.data };
    const backward = await m.arena.op(`${label} backward`, shape, Object.values(backwardBuffers), () =>
      AttentionBackward.create(m.gpu, `${label} backward`, shape, backwardBuffers),
    );
    backward.encode();
    await rope(m, label, shape, dQkv, 'backward');
    await tape.addGrad(qkv, dQkv);
  });
  tape.dispose(logsumexp);
  return out;
}

/** Rotates the q and k sections of a qkv-shaped tensor in place: forward by +angle, backward by −angle. */
async function rope(m: ModelContext, label: string, shape: AttentionShape, qkv: Tensor, direction: RopeDirection): Promise<void> {
  const table = m.ropeTable;
  if (!table) throw new Error(`${label}: the model has no RoPE table; the att variant needs one`);
  const name = `${label} rope ${direction}`;
  const op = await m.arena.op(name, shape, [qkv.data, table], () => Rope.create(m.gpu, name, shape, { qkv: qkv.data, table }, direction));
  op.encode();
}
