// Evaluation metrics from the model's per-step predictions: exact and token accuracy at the
// final supervision step, the step at which each puzzle was first solved, the first step with
// q_halt > 0, and a baseline that copies the givens.
import { BLANK_TOKEN } from '../data/sudoku.js';
import { IGNORE_LABEL } from '../kernels/losses.js';
import type { TokenBatch } from './sudoku-batches.js';

/** The model's output for one batch at each supervision step. */
export interface StepPredictions {
  /** Per step: [batch, cells] argmax tokens. */
  tokens: Int32Array[];
  /** Per step: [batch] q_halt logits. */
  qHalt: Float32Array[];
}

export interface EvaluationTotals {
  puzzles: number;
  exact: number;
  correctTokens: number;
  validTokens: number;
  /** Tokens right when blanks are left blank: the score of copying the input. */
  copyCorrectTokens: number;
  /** Blank cells, and blank cells the model filled correctly. */
  blankTokens: number;
  correctBlankTokens: number;
  /** Sum over solved puzzles of the first step (1-based) whose prediction is exact. */
  firstSolvedStepSum: number;
  solvedAtSomeStep: number;
  /** Puzzles whose final q_halt sign agrees with whether the final answer is exact. */
  haltingCorrect: number;
  /** Sum over puzzles where q_halt ever became positive of the first such step. */
  firstHaltStepSum: number;
  haltedAtSomeStep: number;
}

export interface EvaluationReport {
  puzzles: number;
  exactAccuracy: number;
  tokenAccuracy: number;
  copyBaselineTokenAccuracy: number;
  blankAccuracy: number;
  meanFirstSolvedStep: number | null;
  solvedAtSomeStep: number;
  haltingAccuracy: number;
  meanFirstHaltStep: number | null;
}

export function emptyTotals(): EvaluationTotals {
  return {
    puzzles: 0, exact: 0, correctTokens: 0, validTokens: 0, copyCorrectTokens: 0, blankTokens: 0, correctBlankTokens: 0,
    firstSolvedStepSum: 0, solvedAtSomeStep: 0, haltingCorrect: 0, firstHaltStepSum: 0, haltedAtSomeStep: 0,
  };
}

/** Adds one batch's valid rows to the totals. */
export function accumulateBatch(totals: EvaluationTotals, batch: TokenBatch, predictions: StepPredictions): void {
  const steps = predictions.tokens.length;
  if (steps === 0) throw new Error('evaluation produced no supervision steps');
  const cells = batch.labels.length / batch.puzzleIds.length;

  for (let row = 0; row < batch.validRows; row++) {
    const rowSlice = (tokens: Int32Array) => tokens.subarray(row * cells, (row + 1) * cells);
    const labels = rowSlice(batch.labels);
    const inputs = rowSlice(batch.inputs);
    const final = rowSlice(predictions.tokens[steps - 1]);

    totals.puzzles++;
    const finalExact = isExact(final, labels);
    if (finalExact) totals.exact++;
    countTokens(totals, inputs, labels, final);

    const firstSolved = predictions.tokens.findIndex((tokens) => isExact(rowSlice(tokens), labels));
    if (firstSolved >= 0) {
      totals.solvedAtSomeStep++;
      totals.firstSolvedStepSum += firstSolved + 1;
    }

    const firstHalt = predictions.qHalt.findIndex((q) => q[row] > 0);
    if (firstHalt >= 0) {
      totals.haltedAtSomeStep++;
      totals.firstHaltStepSum += firstHalt + 1;
    }
    if ((predictions.qHalt[steps - 1][row] > 0) === finalExact) totals.haltingCorrect++;
  }
}

export function summarize(totals: EvaluationTotals): EvaluationReport {
  const ratio = (part: number, whole: number) => (whole > 0 ? part / whole : 0);
  return {
    puzzles: totals.puzzles,
    exactAccuracy: ratio(totals.exact, totals.puzzles),
    tokenAccuracy: ratio(totals.correctTokens, totals.validTokens),
    copyBaselineTokenAccuracy: ratio(totals.copyCorrectTokens, totals.validTokens),
    blankAccuracy: ratio(totals.correctBlankTokens, totals.blankTokens),
    meanFirstSolvedStep: totals.solvedAtSomeStep > 0 ? totals.firstSolvedStepSum / totals.solvedAtSomeStep : null,
    solvedAtSomeStep: totals.solvedAtSomeStep,
    haltingAccuracy: ratio(totals.haltingCorrect, totals.puzzles),
    meanFirstHaltStep: totals.haltedAtSomeStep > 0 ? totals.firstHaltStepSum / totals.haltedAtSomeStep : null,
  };
}

function isExact(predicted: Int32Array, labels: Int32Array): boolean {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== IGNORE_LABEL && predicted[i] !== labels[i]) return false;
  }
  return true;
}

function countTokens(totals: EvaluationTotals, inputs: Int32Array, labels: Int32Array, predicted: Int32Array): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === IGNORE_LABEL) continue;
    totals.validTokens++;
    if (predicted[i] === labels[i]) totals.correctTokens++;
    if (inputs[i] === labels[i]) totals.copyCorrectTokens++;
    if (inputs[i] === BLANK_TOKEN) {
      totals.blankTokens++;
      if (predicted[i] === labels[i]) totals.correctBlankTokens++;
    }
  }
}
