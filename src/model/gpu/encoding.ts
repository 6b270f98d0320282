// Input encoding: token embeddings of the grid after `prefix` puzzle-embedding slots, all
// scaled by sqrt(hidden). Slot 0 contains the sample's puzzle-table row and the other slots are 0.
import type { Tensor } from '../../autograd/tape.js';
import type { BufferRange } from '../../gpu/bindings.js';
import { InputEmbedding, InputEmbeddingBackward, type EmbeddingShape } from '../../kernels/embedding.js';
import { TOKEN_EMBEDDING } from '../parameters.js';
import type { ModelContext } from './context.js';

/**
 * x [batch, length, hidden] from tokens [batch, seq] and puzzle ids [batch] (i32, checked on
 * the host). The backward pass adds into the token table's gradient and writes the per-sample
 * puzzle-row gradient dPuzzle [batch, hidden], which SignSGD sums per puzzle id.
 */
export async function inputEncoding(m: ModelContext, inputs: { tokens: BufferRange; puzzleIds: BufferRange }, dPuzzle: BufferRange | null): Promise<Tensor> {
  const { config, sizes, tape } = m;
  const table = m.parameter(TOKEN_EMBEDDING);
  const shape: EmbeddingShape = {
    batch: m.batch,
    seq: config.seqLen,
    prefix: config.puzzleEmbSlots,
    hidden: config.hidden,
    vocab: config.vocab,
    puzzleRows: config.numPuzzleIds,
  };
  const x = tape.tensor('input encoding', [m.batch, sizes.totalSeqLen, config.hidden], tape.needsGrad({ requiresGrad: table.grad !== null }));
  const buffers = { tokens: inputs.tokens, tokenTable: table.data, puzzleIds: inputs.puzzleIds, puzzleTable: m.puzzleTable, x: x.data };
  const forward = await m.arena.op('input encoding forward', shape, Object.values(buffers), () => InputEmbedding.create(m.gpu, 'input encoding forward', shape, buffers));
  forward.encode();

  tape.record(x, [], async (dX) => {
    if (!table.grad || !dPuzzle) throw new Error('input encoding: training needs the token table gradient and a dPuzzle buffer');
    const backwardBuffers = { tokens: inputs.tokens, dX: dX.data, dTokenTable: table.grad, dPuzzle };
    const backward = await m.arena.op('input encoding backward', shape, Object.values(backwardBuffers), () =>
      InputEmbeddingBackward.create(m.gpu, 'input encoding backward', shape, backwardBuffers),
    );
    backward.encode();
  });
  return x;
}
