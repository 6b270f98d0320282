// The post-norm block and net(hidden, injection), the stack of blocks that every latent and
// answer update calls. Activations are [batch, length, hidden] with length = prefix + seq.
import { add } from '../../autograd/ops.js';
import type { Tensor } from '../../autograd/tape.js';
import type { RmsNormShape } from '../../kernels/rmsnorm.js';
import { blockTensorName } from '../parameters.js';
import { selfAttention } from './attention.js';
import type { ModelContext } from './context.js';
import { linear, rmsNorm, sequenceLinear, swiglu } from './layers.js';

/** RMSNorm(h + sublayer) over the axis `shape` names: the post-norm residual of each half of a block. */
async function residualNorm(m: ModelContext, label: string, h: Tensor, sublayer: Tensor, shape: RmsNormShape): Promise<Tensor> {
  const sum = await add(m.tape, `${label} residual`, h, sublayer);
  return rmsNorm(m, `${label} norm`, sum, shape);
}

/** Channel mixing: RMSNorm(h + down(silu(gate) ⊙ up)) with gate|up = gate_up(h), over the hidden axis. */
async function channelMlp(m: ModelContext, block: number, h: Tensor): Promise<Tensor> {
  const label = `L_level.layers.${block}.mlp`;
  const rows = m.batch * m.sizes.totalSeqLen;
  const gateUp = await linear(m, h, m.parameter(blockTensorName(block, 'mlp.gate_up_proj.weight')));
  const hidden = await swiglu(m, `${label} swiglu`, gateUp, { axis: 'last', rows, inner: m.sizes.inner });
  const out = await linear(m, hidden, m.parameter(blockTensorName(block, 'mlp.down_proj.weight')));
  return residualNorm(m, label, h, out, { axis: 'last', rows, hidden: m.config.hidden });
}

/**
 * Token mixing of the mlp variant: the same SwiGLU along the sequence axis of each channel,
 * and RMSNorm over the sequence axis too, as the reference applies both to the transpose
 * [batch, hidden, length] before transposing back.
 */
// NOTE: gateUp here is [batch, 2·tokenInner, hidden], 2 MiB per sample for paper-mlp, so a
// device with the default 128 MiB maxStorageBufferBindingSize runs that config at batch 64 at
// most. Larger batches would need the step split into micro-batches, which is not implemented.
async function tokenMlp(m: ModelContext, block: number, h: Tensor): Promise<Tensor> {
  const label = `L_level.layers.${block}.mlp_t`;
  const { batch, sizes } = m;
  const channels = m.config.hidden;
  const gateUp = await sequenceLinear(m, h, m.parameter(blockTensorName(block, 'mlp_t.gate_up_proj.weight')), channels);
  const hidden = await swiglu(m, `${label} swiglu`, gateUp, { axis: 'middle', batch, inner: sizes.tokenInner, channels });
  const out = await sequenceLinear(m, hidden, m.parameter(blockTensorName(block, 'mlp_t.down_proj.weight')), channels);
  return residualNorm(m, label, h, out, { axis: 'middle', batch, length: sizes.totalSeqLen, channels });
}

/** Attention sublayer of the att variant with its post-norm residual. */
async function attentionMixer(m: ModelContext, block: number, h: Tensor): Promise<Tensor> {
  const out = await selfAttention(m, block, h);
  return residualNorm(m, `L_level.layers.${block}.self_attn`, h, out, { axis: 'last', rows: m.batch * m.sizes.totalSeqLen, hidden: m.config.hidden });
}

/** Applies one post-norm block: sequence mixing (token MLP or attention), then channel mixing. */
export async function block(m: ModelContext, index: number, h: Tensor): Promise<Tensor> {
  return m.tape.tidy(async () => {
    const mixed = m.config.variant === 'mlp' ? await tokenMlp(m, index, h) : await attentionMixer(m, index, h);
    return channelMlp(m, index, mixed);
  });
}

/** net(hidden, injection): the blocks applied in order to hidden + injection. */
export async function net(m: ModelContext, hidden: Tensor, injection: Tensor): Promise<Tensor> {
  return m.tape.tidy(async () => {
    let h = await add(m.tape, 'net input', hidden, injection);
    for (let index = 0; index < m.config.blocks; index++) {
      const next = await block(m, index, h);
      m.tape.dispose(h);
      h = next;
    }
    return h;
  });
}
