// Training and test sets for a run: read from a file or a reference .npy folder, or generated
// with unique solutions when no data is given, with the test set held out from training.
import { generateSudokuSet } from '../data/generator.js';
import { readReferenceDataset } from '../data/reference-format.js';
import { cellCount, decodeTokens, formatGrid, geometryFromLength, readSudokuFile, splitSudokuSet, SudokuSetBuilder, type BadRowPolicy, type SudokuGeometry, type SudokuSet } from '../data/sudoku.js';

export interface DataOptions {
  /** A CSV or puzzle-list file, or a reference dataset folder; generated puzzles when absent. */
  data?: string;
  test?: string;
  badRows: BadRowPolicy;
  limit?: number;
  /** Generated data: grid size (4, 6 or 9), training and test counts, seed and difficulty. */
  generate: { geometry: SudokuGeometry; trainCount: number; testCount: number; seed: number; difficulty: number };
  /** Test puzzles taken from the end of the training file when no --test is given. */
  heldOutFromData: number;
}

export interface RunData {
  train: SudokuSet;
  test: SudokuSet;
  /** One line per source, for the run's log. */
  description: string[];
}

export async function loadRunData(options: DataOptions): Promise<RunData> {
  if (!options.data) return generatedData(options);

  const { set: full, note } = await readPuzzleSet(options.data, options);
  const description = [`training data: ${options.data} (${full.count} puzzles${note})`];
  if (options.test) {
    const { set: test, note: testNote } = await readPuzzleSet(options.test, options);
    if (test.geometry.size !== full.geometry.size) throw new Error(`--test has ${test.geometry.size}×${test.geometry.size} grids but --data has ${full.geometry.size}×${full.geometry.size}`);
    description.push(`test data: ${options.test} (${test.count} puzzles${testNote})`);
    return { train: full, test, description };
  }

  const heldOut = Math.min(options.heldOutFromData, Math.floor(full.count / 10));
  if (heldOut < 1) throw new Error(`--data ${options.data} has ${full.count} puzzles, too few to hold out a test set; pass --test FILE`);
  const [train, test] = splitSudokuSet(full, full.count - heldOut);
  description.push(`test data: the last ${heldOut} puzzles of ${options.data}, held out from training`);
  return { train, test, description };
}

/** Reads puzzles from a CSV or list file or a reference .npy folder, printing skipped rows. */
export async function readPuzzleSet(path: string, options: Pick<DataOptions, 'badRows' | 'limit'>): Promise<{ set: SudokuSet; note: string }> {
  const { stat } = await import('node:fs/promises');
  const info = await stat(path).catch(() => null);
  if (!info) throw new Error(`data not found: ${path}`);

  if (info.isDirectory()) return { set: setFromReferenceFolder(await readReferenceDataset(path), options.limit), note: ', reference .npy folder' };

  const result = await readSudokuFile(path, { badRows: options.badRows, limit: options.limit });
  const note = result.badRowCount > 0 ? `, ${result.badRowCount} bad rows skipped` : '';
  for (const bad of result.badRows.slice(0, 5)) console.error(`skipped ${path}:${bad.line}: ${bad.reason}`);
  if (result.set.count === 0) throw new Error(`${path} contains no valid puzzles`);
  return { set: result.set, note };
}

function setFromReferenceFolder(dataset: Awaited<ReturnType<typeof readReferenceDataset>>, limit?: number): SudokuSet {
  const seqLen = dataset.metadata.seq_len;
  const geometry = geometryFromLength(seqLen);
  const count = Math.min(dataset.exampleCount, limit ?? Infinity);
  const builder = new SudokuSetBuilder(geometry, count);
  for (let i = 0; i < count; i++) {
    const puzzle = decodeTokens(dataset.inputs.subarray(i * seqLen, (i + 1) * seqLen), geometry);
    const answer = decodeTokens(dataset.labels.subarray(i * seqLen, (i + 1) * seqLen), geometry);
    builder.add(puzzle, answer, { source: 'reference dataset', line: i + 1 });
  }
  return builder.build();
}

function generatedData(options: DataOptions): RunData {
  const { geometry, trainCount, testCount, seed, difficulty } = options.generate;
  const train = generateSudokuSet(trainCount, { seed, geometry, difficulty });
  const seen = new Set(Array.from({ length: train.count }, (_, i) => formatGrid(train.puzzles.subarray(i * cellCount(geometry), (i + 1) * cellCount(geometry)))));

  // Draw test puzzles from another seed until enough are new to the training set.
  const builder = new SudokuSetBuilder(geometry, testCount);
  for (let round = 1; builder.count < testCount && round <= 20; round++) {
    const candidates = generateSudokuSet(testCount, { seed: seed + 7919 * round, geometry, difficulty });
    for (let i = 0; i < candidates.count && builder.count < testCount; i++) {
      const cells = cellCount(geometry);
      const puzzle = candidates.puzzles.subarray(i * cells, (i + 1) * cells);
      const key = formatGrid(puzzle);
      if (seen.has(key)) continue;
      seen.add(key);
      builder.add(puzzle, candidates.answers.subarray(i * cells, (i + 1) * cells), { source: 'generated' });
    }
  }
  if (builder.count < testCount) throw new Error(`could only generate ${builder.count} test puzzles not in the training set; lower the test count`);

  const size = `${geometry.size}×${geometry.size}`;
  return {
    train,
    test: builder.build(),
    description: [`training data: ${trainCount} generated ${size} puzzles (seed ${seed}, difficulty ${difficulty})`, `test data: ${testCount} generated ${size} puzzles, none of them in the training set`],
  };
}

