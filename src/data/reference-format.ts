// The folder format of the reference TRM dataset builders, one folder per split:
//   dataset.json                   metadata (ReferenceMetadata)
//   <set>__inputs.npy              [examples, seq_len] input tokens
//   <set>__labels.npy              [examples, seq_len] label tokens
//   <set>__puzzle_identifiers.npy  [puzzles] int32 puzzle-embedding id of each puzzle
//   <set>__puzzle_indices.npy      [puzzles + 1] int32 offsets: puzzle p = examples [pi[p], pi[p+1])
//   <set>__group_indices.npy       [groups + 1] int32 offsets: group g = puzzles [gi[g], gi[g+1])
// The set name is "all" in every reference builder. Some published folders contain only the
// inputs and labels. Missing index files then default to one example per puzzle, groups of
// equal size, and puzzle id 0, which is the id the Sudoku builder gives every puzzle.
import { dtypeOf, formatShape, parseNpy, serializeNpy, toInt32Array, type NpyArray } from '../io/npy.js';
import { cellCount, encodeSet, vocabSize, type SudokuSet } from './sudoku.js';

/** dataset.json; the snake_case keys are those the reference builders write. */
export interface ReferenceMetadata {
  seq_len: number;
  vocab_size: number;
  pad_id: number;
  /** Label value that the loss skips; null when every label counts. */
  ignore_label_id: number | null;
  blank_identifier_id: number;
  num_puzzle_identifiers: number;
  total_groups: number;
  mean_puzzle_examples: number;
  total_puzzles: number;
  sets: string[];
}

export type TokenArray = Uint8Array | Int32Array;

export interface ReferenceDataset {
  metadata: ReferenceMetadata;
  exampleCount: number;
  /** exampleCount × seq_len tokens. */
  inputs: TokenArray;
  /** exampleCount × seq_len tokens, ignore_label_id included as stored. */
  labels: TokenArray;
  puzzleIdentifiers: Int32Array;
  puzzleIndices: Int32Array;
  groupIndices: Int32Array;
}

/** The arrays of one set, already parsed from their .npy files. */
export interface ReferenceArrays {
  inputs: NpyArray;
  labels: NpyArray;
  puzzleIdentifiers?: NpyArray;
  puzzleIndices?: NpyArray;
  groupIndices?: NpyArray;
}

/** Label value that cross-entropy skips, which the reference collate step writes for ignore_label_id. */
export const IGNORE_INDEX = -100;

const INTEGER_FIELDS = [
  'seq_len',
  'vocab_size',
  'pad_id',
  'blank_identifier_id',
  'num_puzzle_identifiers',
  'total_groups',
  'total_puzzles',
] as const;

function fileNames(set: string): Record<keyof ReferenceArrays, string> {
  return {
    inputs: `${set}__inputs.npy`,
    labels: `${set}__labels.npy`,
    puzzleIdentifiers: `${set}__puzzle_identifiers.npy`,
    puzzleIndices: `${set}__puzzle_indices.npy`,
    groupIndices: `${set}__group_indices.npy`,
  };
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Parses and checks dataset.json; source names the file in errors. */
export function parseReferenceMetadata(text: string, source = 'dataset.json'): ReferenceMetadata {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${source}: invalid JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`${source}: expected a JSON object`);
  }

  const record = json as Record<string, unknown>;
  for (const field of INTEGER_FIELDS) {
    if (record[field] === undefined) throw new Error(`${source}: field '${field}' is missing`);
    if (!isNonNegativeInteger(record[field])) {
      throw new Error(`${source}: field '${field}' is ${JSON.stringify(record[field])}, expected a non-negative integer`);
    }
  }
  const ignore = record.ignore_label_id ?? null;
  if (ignore !== null && !Number.isSafeInteger(ignore)) {
    throw new Error(`${source}: field 'ignore_label_id' is ${JSON.stringify(ignore)}, expected an integer or null`);
  }
  const sets = record.sets;
  if (!Array.isArray(sets) || sets.length === 0 || sets.some((set) => typeof set !== 'string')) {
    throw new Error(`${source}: field 'sets' is ${JSON.stringify(sets)}, expected a non-empty list of set names`);
  }
  const mean = record.mean_puzzle_examples;

  return {
    ...(record as unknown as ReferenceMetadata),
    ignore_label_id: ignore as number | null,
    mean_puzzle_examples: typeof mean === 'number' ? mean : Number.NaN,
  };
}

function toTokenArray(array: NpyArray, name: string): TokenArray {
  return array.data instanceof Uint8Array ? array.data : toInt32Array(array, name);
}

function checkTokenShape(array: NpyArray, name: string, seqLen: number): number {
  if (array.shape.length !== 2 || array.shape[1] !== seqLen) {
    throw new Error(`${name} has shape ${formatShape(array.shape)}, expected (examples, ${seqLen}) with seq_len ${seqLen} from dataset.json`);
  }
  return array.shape[0];
}

/** Checks that every token is in [0, vocab_size) or equals the allowed extra value. */
function checkTokenRange(tokens: TokenArray, name: string, metadata: ReferenceMetadata, allowed: number | null): void {
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if ((token < 0 || token >= metadata.vocab_size) && token !== allowed) {
      const example = Math.floor(i / metadata.seq_len);
      throw new Error(`${name}: example ${example}, position ${i % metadata.seq_len} has token ${token}, expected 0 to ${metadata.vocab_size - 1} (vocab_size ${metadata.vocab_size} in dataset.json)`);
    }
  }
}

/** Checks an offsets array: expectedLength entries, starting at 0, non-decreasing, ending at last. */
function checkOffsets(offsets: Int32Array, name: string, expectedLength: number, last: number, what: string): void {
  if (offsets.length !== expectedLength) {
    throw new Error(`${name} has ${offsets.length} entries, expected ${expectedLength} (${what})`);
  }
  if (offsets[0] !== 0 || offsets[offsets.length - 1] !== last) {
    throw new Error(`${name} runs from ${offsets[0]} to ${offsets[offsets.length - 1]}, expected 0 to ${last}`);
  }
  for (let i = 1; i < offsets.length; i++) {
    if (offsets[i] < offsets[i - 1]) throw new Error(`${name} decreases at entry ${i} (${offsets[i - 1]} then ${offsets[i]})`);
  }
}

function defaultPuzzleIndices(metadata: ReferenceMetadata, exampleCount: number, name: string): Int32Array {
  if (metadata.total_puzzles !== exampleCount) {
    throw new Error(`${name} is missing, and total_puzzles ${metadata.total_puzzles} in dataset.json differs from the ${exampleCount} examples, so puzzles cannot be one example each`);
  }
  return Int32Array.from({ length: exampleCount + 1 }, (_, i) => i);
}

function defaultGroupIndices(metadata: ReferenceMetadata, name: string): Int32Array {
  const { total_puzzles: puzzles, total_groups: groups } = metadata;
  if (groups === 0 ? puzzles !== 0 : puzzles % groups !== 0) {
    throw new Error(`${name} is missing, and total_puzzles ${puzzles} is not a multiple of total_groups ${groups}, so groups cannot be of equal size`);
  }
  const groupSize = groups === 0 ? 0 : puzzles / groups;
  return Int32Array.from({ length: groups + 1 }, (_, i) => i * groupSize);
}

/** Checks the arrays against dataset.json and fills in missing index arrays; folder prefixes names in errors. */
export function buildReferenceDataset(metadata: ReferenceMetadata, arrays: ReferenceArrays, folder = '', set = 'all'): ReferenceDataset {
  const names = fileNames(set);
  const where = (key: keyof ReferenceArrays): string => (folder ? `${folder}/${names[key]}` : names[key]);

  const exampleCount = checkTokenShape(arrays.inputs, where('inputs'), metadata.seq_len);
  if (formatShape(arrays.labels.shape) !== formatShape(arrays.inputs.shape)) {
    throw new Error(`${where('labels')} has shape ${formatShape(arrays.labels.shape)}, expected ${formatShape(arrays.inputs.shape)} like ${names.inputs}`);
  }
  const inputs = toTokenArray(arrays.inputs, where('inputs'));
  const labels = toTokenArray(arrays.labels, where('labels'));
  checkTokenRange(inputs, where('inputs'), metadata, null);
  checkTokenRange(labels, where('labels'), metadata, metadata.ignore_label_id);

  const puzzleIndices = arrays.puzzleIndices
    ? toInt32Array(arrays.puzzleIndices, where('puzzleIndices'))
    : defaultPuzzleIndices(metadata, exampleCount, where('puzzleIndices'));
  checkOffsets(puzzleIndices, where('puzzleIndices'), metadata.total_puzzles + 1, exampleCount, 'total_puzzles + 1');

  const groupIndices = arrays.groupIndices
    ? toInt32Array(arrays.groupIndices, where('groupIndices'))
    : defaultGroupIndices(metadata, where('groupIndices'));
  checkOffsets(groupIndices, where('groupIndices'), metadata.total_groups + 1, metadata.total_puzzles, 'total_groups + 1');

  const puzzleIdentifiers = arrays.puzzleIdentifiers
    ? toInt32Array(arrays.puzzleIdentifiers, where('puzzleIdentifiers'))
    : new Int32Array(metadata.total_puzzles);
  checkPuzzleIdentifiers(puzzleIdentifiers, where('puzzleIdentifiers'), metadata);

  return { metadata, exampleCount, inputs, labels, puzzleIdentifiers, puzzleIndices, groupIndices };
}

function checkPuzzleIdentifiers(identifiers: Int32Array, name: string, metadata: ReferenceMetadata): void {
  if (identifiers.length !== metadata.total_puzzles) {
    throw new Error(`${name} has ${identifiers.length} entries, expected total_puzzles ${metadata.total_puzzles}`);
  }
  const invalid = identifiers.findIndex((id) => id < 0 || id >= metadata.num_puzzle_identifiers);
  if (invalid >= 0) {
    throw new Error(`${name}: puzzle ${invalid} has id ${identifiers[invalid]}, expected 0 to ${metadata.num_puzzle_identifiers - 1} (num_puzzle_identifiers in dataset.json)`);
  }
}

/** Reads one set of a reference dataset folder in Node. */
export async function readReferenceDataset(folder: string, set = 'all'): Promise<ReferenceDataset> {
  const { readFile } = await import('node:fs/promises');
  const { join } = await import('node:path');

  const metadataPath = join(folder, 'dataset.json');
  const metadata = parseReferenceMetadata(await readFile(metadataPath, 'utf8'), metadataPath);
  if (!metadata.sets.includes(set)) {
    throw new Error(`${metadataPath}: set '${set}' is not listed in sets ${JSON.stringify(metadata.sets)}`);
  }

  const names = fileNames(set);
  const readArray = async (key: keyof ReferenceArrays, required: boolean): Promise<NpyArray | undefined> => {
    const path = join(folder, names[key]);
    try {
      return parseNpy(await readFile(path), path);
    } catch (error) {
      if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  };

  const arrays: ReferenceArrays = {
    inputs: (await readArray('inputs', true)) as NpyArray,
    labels: (await readArray('labels', true)) as NpyArray,
    puzzleIdentifiers: await readArray('puzzleIdentifiers', false),
    puzzleIndices: await readArray('puzzleIndices', false),
    groupIndices: await readArray('groupIndices', false),
  };
  return buildReferenceDataset(metadata, arrays, folder, set);
}

/** Writes a dataset as a reference folder (dataset.json and all five arrays) in Node. */
export async function writeReferenceDataset(folder: string, dataset: ReferenceDataset, set = 'all'): Promise<void> {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  await mkdir(folder, { recursive: true });

  const { metadata, exampleCount, inputs, labels } = dataset;
  const tokenShape = [exampleCount, metadata.seq_len];
  const arrays: Record<keyof ReferenceArrays, NpyArray> = {
    inputs: { dtype: dtypeOf(inputs), shape: tokenShape, data: inputs },
    labels: { dtype: dtypeOf(labels), shape: tokenShape, data: labels },
    puzzleIdentifiers: { dtype: 'int32', shape: [dataset.puzzleIdentifiers.length], data: dataset.puzzleIdentifiers },
    puzzleIndices: { dtype: 'int32', shape: [dataset.puzzleIndices.length], data: dataset.puzzleIndices },
    groupIndices: { dtype: 'int32', shape: [dataset.groupIndices.length], data: dataset.groupIndices },
  };

  const names = fileNames(set);
  for (const key of Object.keys(arrays) as (keyof ReferenceArrays)[]) {
    await writeFile(join(folder, names[key]), serializeNpy(arrays[key]));
  }
  await writeFile(join(folder, 'dataset.json'), JSON.stringify(metadata));
}

/**
 * Converts a Sudoku set to the reference layout: every example is its own puzzle with id 0,
 * and each group is examplesPerGroup consecutive examples (an original and its augmented
 * copies, as augmentSet orders them).
 */
export function referenceDatasetFromSudokuSet(set: SudokuSet, examplesPerGroup = 1): ReferenceDataset {
  if (!Number.isInteger(examplesPerGroup) || examplesPerGroup < 1 || set.count % examplesPerGroup !== 0) {
    throw new RangeError(`examplesPerGroup ${examplesPerGroup} is invalid: expected a positive divisor of the ${set.count} examples`);
  }

  const { inputs, labels } = encodeSet(set);
  const groups = set.count / examplesPerGroup;
  const metadata: ReferenceMetadata = {
    seq_len: cellCount(set.geometry),
    vocab_size: vocabSize(set.geometry),
    pad_id: 0,
    ignore_label_id: 0,
    blank_identifier_id: 0,
    num_puzzle_identifiers: 1,
    total_groups: groups,
    mean_puzzle_examples: 1,
    total_puzzles: set.count,
    sets: ['all'],
  };

  return {
    metadata,
    exampleCount: set.count,
    inputs,
    labels,
    puzzleIdentifiers: new Int32Array(set.count),
    puzzleIndices: Int32Array.from({ length: set.count + 1 }, (_, i) => i),
    groupIndices: Int32Array.from({ length: groups + 1 }, (_, i) => i * examplesPerGroup),
  };
}

export interface TrainingBatch {
  /** batch × seq_len input tokens. */
  inputs: Int32Array;
  /** batch × seq_len label tokens, with IGNORE_INDEX where the label equals ignore_label_id. */
  labels: Int32Array;
  /** Puzzle-embedding id of each example. */
  puzzleIdentifiers: Int32Array;
}

/** Returns the puzzle p with puzzleIndices[p] <= example < puzzleIndices[p + 1]. */
function puzzleOfExample(puzzleIndices: Int32Array, example: number): number {
  let low = 0;
  let high = puzzleIndices.length - 2;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (puzzleIndices[middle] <= example) low = middle;
    else high = middle - 1;
  }
  return low;
}

/**
 * Copies the given examples into a batch as the reference collate step does: labels equal to
 * ignore_label_id become IGNORE_INDEX (-100), and each example gets its puzzle's id.
 */
export function gatherBatch(dataset: ReferenceDataset, exampleIndices: ArrayLike<number>): TrainingBatch {
  const seqLen = dataset.metadata.seq_len;
  const ignore = dataset.metadata.ignore_label_id;
  const batch = exampleIndices.length;
  const inputs = new Int32Array(batch * seqLen);
  const labels = new Int32Array(batch * seqLen);
  const puzzleIdentifiers = new Int32Array(batch);

  for (let row = 0; row < batch; row++) {
    const example = exampleIndices[row];
    if (!Number.isInteger(example) || example < 0 || example >= dataset.exampleCount) {
      throw new RangeError(`example index ${example} at batch row ${row} is out of range: the dataset has ${dataset.exampleCount} examples`);
    }

    const start = example * seqLen;
    for (let k = 0; k < seqLen; k++) {
      const label = dataset.labels[start + k];
      inputs[row * seqLen + k] = dataset.inputs[start + k];
      labels[row * seqLen + k] = label === ignore ? IGNORE_INDEX : label;
    }
    puzzleIdentifiers[row] = dataset.puzzleIdentifiers[puzzleOfExample(dataset.puzzleIndices, example)];
  }
  return { inputs, labels, puzzleIdentifiers };
}
