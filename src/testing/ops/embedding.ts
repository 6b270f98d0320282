import { checkIds, embeddingSizes, InputEmbedding, InputEmbeddingBackward, type EmbeddingShape } from '../../kernels/embedding.js';
import { withInputBuffers, type OpHandler } from './common.js';

export const embeddingOps: Record<string, OpHandler> = {
  /**
   * inputs tokens, tokenTable, puzzleIds, puzzleTable; params shape, checkIds (default true;
   * false lets out-of-range ids reach the shader); outputs x.
   */
  'embedding.forward': (gpu, request) => {
    const shape = request.params.shape as EmbeddingShape;
    if (request.params.checkIds !== false) {
      checkIds('embedding.forward', 'tokens', request.inputs.tokens, shape.vocab);
      checkIds('embedding.forward', 'puzzleIds', request.inputs.puzzleIds, shape.puzzleRows);
    }
    const x = new Float32Array(embeddingSizes(shape).x);
    return withInputBuffers(gpu, { ...request.inputs, x }, async (buffers) => {
      const { tokens, tokenTable, puzzleIds, puzzleTable } = buffers;
      const op = await InputEmbedding.create(gpu, 'embedding.forward', shape, { tokens, tokenTable, puzzleIds, puzzleTable, x: buffers.x });
      op.encode();
      const result = await gpu.readFloat32(buffers.x, x.length);
      op.destroy();
      return { x: result };
    });
  },

  /** inputs tokens, dX, dTokenTable (accumulated into); params shape, checkIds; outputs dTokenTable, dPuzzle. */
  'embedding.backward': (gpu, request) => {
    const shape = request.params.shape as EmbeddingShape;
    if (request.params.checkIds !== false) checkIds('embedding.backward', 'tokens', request.inputs.tokens, shape.vocab);
    const dPuzzle = new Float32Array(embeddingSizes(shape).dPuzzle);
    return withInputBuffers(gpu, { ...request.inputs, dPuzzle }, async (buffers) => {
      const { tokens, dX, dTokenTable } = buffers;
      const op = await InputEmbeddingBackward.create(gpu, 'embedding.backward', shape, { tokens, dX, dTokenTable, dPuzzle: buffers.dPuzzle });
      op.encode();
      const outputs = {
        dTokenTable: await gpu.readFloat32(dTokenTable, request.inputs.dTokenTable.length),
        dPuzzle: await gpu.readFloat32(buffers.dPuzzle, dPuzzle.length),
      };
      op.destroy();
      return outputs;
    });
  },
};
