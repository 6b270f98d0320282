// The public API that runs in a browser, and the entry point of the browser bundle. Node gets
// all of it from index.ts too, with the file-reading helpers on top.
export { Trm, type TrmOptions, type LoadOptions, type SolveStep, type SolveResult } from './trm.js';
export { createGpu, requestDevice, describeAdapter, REQUIRED_LIMITS, type CreateGpuOptions } from './gpu/device.js';
export { Gpu, type AdapterSummary, type AdapterKind } from './gpu/gpu.js';
export { AdapterError, DeviceLostError, GpuKernelError, ShapeError } from './gpu/errors.js';
export { setDebugLevel, setLogSink, debugLevel, type LogSink } from './log.js';

export { TRM_CONFIGS, trmConfig, validateConfig, type TrmConfig, type TrmConfigName } from './model/config.js';
export { CheckpointError, decodeModelCheckpoint, encodeModelCheckpoint, type ModelCheckpoint } from './model/checkpoint.js';
export type { TrainMetrics } from './model/gpu/metrics.js';
export type { EvaluationReport } from './train/evaluation.js';
export { TrainingBatcher, evaluationBatches, type BatcherState, type TokenBatch } from './train/sudoku-batches.js';

export {
  SUDOKU_4X4, SUDOKU_6X6, SUDOKU_9X9, SUDOKU_GEOMETRIES, cellCount, conflictingCells, describeGeometry, findGeometryForLength,
  findGridTextError, formatGrid, parseGrid, parseSudokuText, isSolutionOf, splitSudokuSet, SudokuDataError,
  type SudokuGeometry, type SudokuSet, type SudokuReadOptions, type SudokuReadResult,
} from './data/sudoku.js';
export { generateSudoku, generateSudokuSet, type GenerateOptions, type GeneratedSudoku } from './data/generator.js';
export { solve as solveExactly, countSolutions } from './data/solver.js';
