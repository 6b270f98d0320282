// Output heads on y [batch, length, hidden]: lm_head on the grid rows (the prefix rows are
// dropped) and the halting logit q_head(y[:, 0])[0]. q_continue has no loss and plays no part
// in halting, so it is not computed and its weights get a zero gradient.
import type { Tensor } from '../../autograd/tape.js';
import { GatherRows, QHaltForward, QHaltInputGrad, QHaltWeightGrad, ScatterRows, type HaltingHeadShape, type RowsShape } from '../../kernels/heads.js';
import { LM_HEAD } from '../parameters.js';
import type { ModelContext } from './context.js';
import { linear } from './layers.js';

export interface HeadsOutput {
  /** [batch·seq, vocab] */
  logits: Tensor;
  /** [batch]: halting is predicted where it is positive. */
  qHalt: Tensor;
}

export async function outputHeads(m: ModelContext, y: Tensor): Promise<HeadsOutput> {
  const grid = await gridRows(m, y);
  const logits = await linear(m, grid, m.parameter(LM_HEAD));
  m.tape.dispose(grid);
  return { logits, qHalt: await haltingLogit(m, y) };
}

function rowsShape(m: ModelContext): RowsShape {
  return { batch: m.batch, prefix: m.config.puzzleEmbSlots, seq: m.config.seqLen, hidden: m.config.hidden };
}

/** Gathers the grid rows of y into [batch, seq, hidden], contiguous so that lm_head is one plain linear layer. */
async function gridRows(m: ModelContext, y: Tensor): Promise<Tensor> {
  const shape = rowsShape(m);
  const grid = m.tape.tensor('grid rows', [shape.batch, shape.seq, shape.hidden], m.tape.needsGrad(y));
  const gather = await m.arena.op('grid rows', shape, [y.data, grid.data], () => GatherRows.create(m.gpu, 'grid rows', shape, { y: y.data, grid: grid.data }));
  gather.encode();

  m.tape.record(grid, [], async (dGrid) => {
    const dY = m.tape.gradFor(y);
    const scatter = await m.arena.op('grid rows backward', shape, [dGrid.data, dY.data], () =>
      ScatterRows.create(m.gpu, 'grid rows backward', shape, { dGrid: dGrid.data, dY: dY.data }),
    );
    scatter.encode();
    await m.tape.addGrad(y, dY);
  });
  return grid;
}

/** q_halt [batch] = q_head.bias[0] + y[:, 0] · q_head.weight[0]. */
async function haltingLogit(m: ModelContext, y: Tensor): Promise<Tensor> {
  const head = m.haltingHead;
  const shape: HaltingHeadShape = { ...rowsShape(m), biasOffset: head.biasOffset };
  const q = m.tape.tensor('q_halt', [m.batch], m.tape.needsGrad(y, { requiresGrad: head.grad !== null }));
  const forward = await m.arena.op('q_halt forward', shape, [y.data, head.data, q.data], () =>
    QHaltForward.create(m.gpu, 'q_halt forward', shape, { y: y.data, head: head.data, q: q.data }),
  );
  forward.encode();

  m.tape.record(q, [y], async (dQ) => {
    if (head.grad) {
      const dHead = head.grad;
      const weightGrad = await m.arena.op('q_halt weight grad', shape, [y.data, dQ.data, dHead], () =>
        QHaltWeightGrad.create(m.gpu, 'q_halt weight grad', shape, { y: y.data, dQ: dQ.data, dHead }),
      );
      weightGrad.encode();
    }
    if (!y.requiresGrad) return;
    const dY = m.tape.gradFor(y);
    const inputGrad = await m.arena.op('q_halt input grad', shape, [dQ.data, head.data, dY.data], () =>
      QHaltInputGrad.create(m.gpu, 'q_halt input grad', shape, { dQ: dQ.data, head: head.data, dY: dY.data }),
    );
    inputGrad.encode();
    await m.tape.addGrad(y, dY);
  });
  return q;
}
