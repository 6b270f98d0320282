// Shapes and weight views shared by the float64 reference modules.
import { trmSizes, validateConfig, type TrmConfig, type TrmSizes } from '../config.js';
import {
  blockTensorName,
  denseLayout,
  LM_HEAD,
  Q_HEAD_BIAS,
  Q_HEAD_WEIGHT,
  tensorView,
  TOKEN_EMBEDDING,
  type BlockTensor,
  type DenseLayout,
} from '../parameters.js';
import { ropeTables, type AttentionWeights, type RopeTables } from './attention.js';
import type { SwigluWeights } from './layers.js';

export interface ReferenceContext {
  config: TrmConfig;
  sizes: TrmSizes;
  layout: DenseLayout;
  /** RoPE tables for positions 0 … totalSeqLen − 1; null for the mlp variant, which has no positions. */
  rope: RopeTables | null;
}

export function createReferenceContext(config: TrmConfig): ReferenceContext {
  validateConfig(config);
  const sizes = trmSizes(config);
  return {
    config,
    sizes,
    layout: denseLayout(config),
    rope: config.variant === 'att' ? ropeTables(sizes.totalSeqLen, config.headDim, config.ropeBase) : null,
  };
}

/** One block's weights; exactly one of attention (att variant) and tokenMlp (mlp variant) is set. */
export interface BlockWeights {
  attention: AttentionWeights | null;
  /** SwiGLU along the sequence axis: gateUp [2·tokenInner, totalSeqLen], down [totalSeqLen, tokenInner]. */
  tokenMlp: SwigluWeights | null;
  /** SwiGLU along the hidden axis: gateUp [2·inner, hidden], down [hidden, inner]. */
  mlp: SwigluWeights;
}

/** Views of every dense tensor; the same shape serves weights and their gradients. */
export interface ModelWeights {
  /** [vocab, hidden] */
  tokenEmbedding: Float64Array;
  /** [vocab, hidden] */
  lmHead: Float64Array;
  /** [2, hidden]: row 0 gives q_halt, row 1 q_continue. */
  qHeadWeight: Float64Array;
  /** [2] */
  qHeadBias: Float64Array;
  blocks: BlockWeights[];
}

/** Creates views into `flat` [layout.length], which contains parameters or gradients in the dense layout. */
export function modelWeights(context: ReferenceContext, flat: Float64Array): ModelWeights {
  const { layout, config } = context;
  const view = (name: string) => tensorView(layout, flat, name);

  const blocks: BlockWeights[] = [];
  for (let block = 0; block < config.blocks; block++) {
    const blockView = (tensor: BlockTensor) => view(blockTensorName(block, tensor));
    blocks.push({
      attention: config.variant === 'att'
        ? { qkv: blockView('self_attn.qkv_proj.weight'), o: blockView('self_attn.o_proj.weight') }
        : null,
      tokenMlp: config.variant === 'mlp'
        ? { gateUp: blockView('mlp_t.gate_up_proj.weight'), down: blockView('mlp_t.down_proj.weight') }
        : null,
      mlp: { gateUp: blockView('mlp.gate_up_proj.weight'), down: blockView('mlp.down_proj.weight') },
    });
  }

  return {
    tokenEmbedding: view(TOKEN_EMBEDDING),
    lmHead: view(LM_HEAD),
    qHeadWeight: view(Q_HEAD_WEIGHT),
    qHeadBias: view(Q_HEAD_BIAS),
    blocks,
  };
}
