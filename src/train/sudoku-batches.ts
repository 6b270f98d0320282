// Training and evaluation batches of Sudoku puzzles as model tokens (0 pad, 1 blank,
// 2…N+1 digits), with the order and augmentation fixed by a seed. A resumed run therefore
// gets exactly the batches an uninterrupted run would.
import { augmentPair } from '../data/augment.js';
import { deriveSeed, Random } from '../data/random.js';
import { answerAt, cellCount, puzzleAt, PAD_TOKEN, type SudokuSet } from '../data/sudoku.js';
import { IGNORE_LABEL } from '../kernels/losses.js';

export interface TokenBatch {
  /** [batch, cells] input tokens. */
  inputs: Int32Array;
  /** [batch, cells] label tokens; IGNORE_LABEL on padding rows. */
  labels: Int32Array;
  /** [batch] puzzle-embedding ids: Sudoku uses one shared id, 0. */
  puzzleIds: Int32Array;
  /** Rows that hold a real example (the last evaluation batch is padded). */
  validRows: number;
}

/** Position in a training stream: enough to continue it after a restart. */
export interface BatcherState {
  epoch: number;
  position: number;
}

/**
 * Endless training batches: each epoch visits every puzzle once in an order shuffled by
 * (seed, epoch), and with `augment` each visit draws a fresh relabelling and permutation
 * from (seed, epoch, puzzle). Batches run across epoch boundaries.
 */
export class TrainingBatcher {
  private order: Uint32Array;
  private state: BatcherState;

  constructor(
    private readonly set: SudokuSet,
    readonly batch: number,
    private readonly seed: number,
    private readonly augment: boolean,
    state: BatcherState = { epoch: 0, position: 0 },
  ) {
    if (set.count === 0) throw new Error('the training set is empty');
    this.state = { ...state };
    this.order = this.shuffledOrder(state.epoch);
  }

  get position(): BatcherState {
    return { ...this.state };
  }

  next(): TokenBatch {
    const cells = cellCount(this.set.geometry);
    const batch = emptyBatch(this.batch, cells);
    for (let row = 0; row < this.batch; row++) {
      if (this.state.position === this.set.count) this.startEpoch(this.state.epoch + 1);
      const index = this.order[this.state.position++];
      this.writeExample(batch, row, index);
    }
    batch.validRows = this.batch;
    return batch;
  }

  private writeExample(batch: TokenBatch, row: number, index: number): void {
    let puzzle: ArrayLike<number> = puzzleAt(this.set, index);
    let answer: ArrayLike<number> = answerAt(this.set, index);
    if (this.augment) {
      ({ puzzle, answer } = augmentPair(puzzle, answer, this.set.geometry, deriveSeed(this.seed, this.state.epoch, index)));
    }
    writeTokens(batch, row, puzzle, answer);
  }

  private startEpoch(epoch: number): void {
    this.state = { epoch, position: 0 };
    this.order = this.shuffledOrder(epoch);
  }

  private shuffledOrder(epoch: number): Uint32Array {
    const order = Uint32Array.from({ length: this.set.count }, (_, i) => i);
    return new Random(deriveSeed(this.seed, 0x5eed, epoch)).shuffle(order);
  }
}

/** Yields the set in order, `batch` rows at a time. The last batch is padded with ignored rows. */
export function* evaluationBatches(set: SudokuSet, batch: number, limit = set.count): Generator<TokenBatch & { first: number }> {
  const cells = cellCount(set.geometry);
  const count = Math.min(limit, set.count);
  for (let first = 0; first < count; first += batch) {
    const tokens = emptyBatch(batch, cells);
    tokens.validRows = Math.min(batch, count - first);
    for (let row = 0; row < tokens.validRows; row++) writeTokens(tokens, row, puzzleAt(set, first + row), answerAt(set, first + row));
    yield { ...tokens, first };
  }
}

function emptyBatch(batch: number, cells: number): TokenBatch {
  return {
    inputs: new Int32Array(batch * cells).fill(PAD_TOKEN),
    labels: new Int32Array(batch * cells).fill(IGNORE_LABEL),
    puzzleIds: new Int32Array(batch),
    validRows: 0,
  };
}

function writeTokens(batch: TokenBatch, row: number, puzzle: ArrayLike<number>, answer: ArrayLike<number>): void {
  const cells = puzzle.length;
  for (let cell = 0; cell < cells; cell++) {
    batch.inputs[row * cells + cell] = puzzle[cell] + 1;
    batch.labels[row * cells + cell] = answer[cell] + 1;
  }
}
