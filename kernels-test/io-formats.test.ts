import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { augmentSet } from '../src/data/augment.js';
import { generateSudokuSet } from '../src/data/generator.js';
import {
  buildReferenceDataset,
  gatherBatch,
  IGNORE_INDEX,
  parseReferenceMetadata,
  readReferenceDataset,
  referenceDatasetFromSudokuSet,
  writeReferenceDataset,
  type ReferenceMetadata,
} from '../src/data/reference-format.js';
import { decodeTokens, encodeSet, isSolutionOf, readSudokuFile, SUDOKU_4X4, SUDOKU_9X9 } from '../src/data/sudoku.js';
import { parseNpy, serializeNpy, toInt32Array, type NpyArray } from '../src/io/npy.js';
import {
  bfloat16ToFloat32,
  float16ToFloat32,
  parseSafetensors,
  readSafetensorsFile,
  serializeSafetensors,
  writeFileAtomic,
  writeSafetensorsFile,
} from '../src/io/safetensors.js';
import { sharedFile } from './shared-data.js';



const tempFolder = mkdtempSync(join(tmpdir(), 'trm-io-'));
afterAll(() => rmSync(tempFolder, { recursive: true, force: true }));

/** Builds a .npy file from a header dict literal and raw data bytes. */
function npyWithHeader(dict: string, data: Uint8Array, version = 1): Uint8Array {
  const headerStart = version === 1 ? 10 : 12;
  const header = new TextEncoder().encode(dict + '\n');
  const bytes = new Uint8Array(headerStart + header.length + data.length);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(bytes.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  bytes.set(header, headerStart);
  bytes.set(data, headerStart + header.length);
  return bytes;
}

function bytesOf(data: Int32Array | Uint16Array | BigInt64Array | Float32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

describe('npy files', () => {
  const arrays: [string, NpyArray][] = [
    ['uint8', { dtype: 'uint8', shape: [2, 3], data: Uint8Array.from([1, 2, 3, 4, 5, 255]) }],
    ['int32', { dtype: 'int32', shape: [4], data: Int32Array.from([-1, 0, 7, 2147483647]) }],
    ['int64', { dtype: 'int64', shape: [2, 1], data: BigInt64Array.from([-5n, 2n ** 40n]) }],
    ['float32', { dtype: 'float32', shape: [], data: Float32Array.from([1.5]) }],
    ['empty', { dtype: 'int32', shape: [0, 81], data: new Int32Array(0) }],
  ];

  test.each(arrays)('%s round trip', (_, array) => {
    const bytes = serializeNpy(array);
    const parsed = parseNpy(bytes);

    expect(parsed.dtype).toBe(array.dtype);
    expect(parsed.shape).toEqual(array.shape);
    expect(Array.from(parsed.data as ArrayLike<number | bigint>)).toEqual(Array.from(array.data as ArrayLike<number | bigint>));
    expect((bytes.length - array.data.byteLength) % 64).toBe(0);
  });

  test('version 2.0 header', () => {
    const data = Int32Array.from([3, 1, 4, 1, 5, 9]);
    const parsed = parseNpy(npyWithHeader("{'descr': '<i4', 'fortran_order': False, 'shape': (3, 2), }", bytesOf(data), 2));

    expect(parsed.shape).toEqual([3, 2]);
    expect(Array.from(parsed.data as Int32Array)).toEqual([3, 1, 4, 1, 5, 9]);
  });

  test('rejects unsupported layouts', () => {
    const data = bytesOf(Int32Array.from([1, 2]));
    const header = (descr: string, fortran = 'False'): string => `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': (2,), }`;

    expect(() => parseNpy(npyWithHeader(header('<i4', 'True'), data), 'a.npy')).toThrow('a.npy: Fortran-order arrays are not supported');
    expect(() => parseNpy(npyWithHeader(header('>i4'), data), 'a.npy')).toThrow("a.npy: big-endian dtype '>i4' is not supported");
    expect(() => parseNpy(npyWithHeader(header('<f8'), new Uint8Array(16)), 'a.npy')).toThrow("a.npy: dtype '<f8' is not supported (expected one of |u1, <u1, <i4, <i8, <f4)");
    expect(() => parseNpy(npyWithHeader(header('<i4'), data.subarray(0, 6)), 'a.npy')).toThrow('a.npy: the file has 6 data bytes, expected 8 for shape (2,) and dtype <i4');
    expect(() => parseNpy(new TextEncoder().encode('not numpy at all'), 'a.npy')).toThrow('a.npy: not a .npy file');
  });

  test('int64 indices narrow to int32', () => {
    const fits: NpyArray = { dtype: 'int64', shape: [2], data: BigInt64Array.from([0n, 1000n]) };
    const tooLarge: NpyArray = { dtype: 'int64', shape: [1], data: BigInt64Array.from([2n ** 31n]) };

    expect(Array.from(toInt32Array(fits, 'i.npy'))).toEqual([0, 1000]);
    expect(() => toInt32Array(tooLarge, 'i.npy')).toThrow('i.npy: element 0 is 2147483648, which does not fit in int32');
  });
});

describe('reference dataset folders', () => {
  test('real 1k folder matches the CSV', async () => {
    const folder = sharedFile('sudoku/raw/sudoku_extreme_train_1k_npy');
    const dataset = await readReferenceDataset(folder);
    const csv = await readSudokuFile(sharedFile('sudoku/sudoku_extreme_train_1k.csv'));

    expect(dataset.exampleCount).toBe(1000);
    expect(dataset.metadata.vocab_size).toBe(11);
    expect(dataset.inputs).toBeInstanceOf(Uint8Array);
    expect(Array.from(dataset.groupIndices.subarray(0, 3))).toEqual([0, 1, 2]);
    expect(dataset.puzzleIdentifiers.every((id) => id === 0)).toBe(true);
    expect(dataset.inputs).toEqual(encodeSet(csv.set).inputs);
    expect(dataset.labels).toEqual(encodeSet(csv.set).labels);

    for (let example = 0; example < dataset.exampleCount; example++) {
      const puzzle = decodeTokens(dataset.inputs.subarray(example * 81, (example + 1) * 81), SUDOKU_9X9);
      const answer = decodeTokens(dataset.labels.subarray(example * 81, (example + 1) * 81), SUDOKU_9X9);
      expect(isSolutionOf(puzzle, answer, SUDOKU_9X9), `example ${example}`).toBe(true);
    }
  });

  test('write and read back', async () => {
    const set = augmentSet(generateSudokuSet(3, { seed: 5, geometry: SUDOKU_4X4, targetGivens: 6 }), 4, 9);
    const dataset = referenceDatasetFromSudokuSet(set, 4);
    const folder = join(tempFolder, 'written');
    await writeReferenceDataset(folder, dataset);
    const read = await readReferenceDataset(folder);

    expect(read.metadata).toEqual(dataset.metadata);
    expect(read.metadata).toMatchObject({ seq_len: 16, vocab_size: 6, total_groups: 3, total_puzzles: 12 });
    expect(read.inputs).toEqual(dataset.inputs);
    expect(read.labels).toEqual(dataset.labels);
    expect(Array.from(read.groupIndices)).toEqual([0, 4, 8, 12]);
    expect(Array.from(read.puzzleIndices)).toEqual(Array.from({ length: 13 }, (_, i) => i));
  });

  test('batch maps ignored labels to -100', () => {
    const metadata = testMetadata({ total_puzzles: 2, total_groups: 1, num_puzzle_identifiers: 3 });
    const dataset = buildReferenceDataset(metadata, {
      inputs: { dtype: 'uint8', shape: [3, 4], data: Uint8Array.from([1, 2, 3, 4, 1, 1, 1, 1, 4, 3, 2, 1]) },
      labels: { dtype: 'uint8', shape: [3, 4], data: Uint8Array.from([2, 0, 3, 4, 0, 0, 5, 5, 4, 3, 2, 2]) },
      puzzleIdentifiers: { dtype: 'int32', shape: [2], data: Int32Array.from([1, 2]) },
      puzzleIndices: { dtype: 'int32', shape: [3], data: Int32Array.from([0, 2, 3]) },
    });
    const batch = gatherBatch(dataset, [2, 0, 1]);

    expect(IGNORE_INDEX).toBe(-100);
    expect(Array.from(batch.inputs)).toEqual([4, 3, 2, 1, 1, 2, 3, 4, 1, 1, 1, 1]);
    expect(Array.from(batch.labels)).toEqual([4, 3, 2, 2, 2, -100, 3, 4, -100, -100, 5, 5]);
    expect(Array.from(batch.puzzleIdentifiers)).toEqual([2, 1, 1]);
    expect(() => gatherBatch(dataset, [3])).toThrow('example index 3 at batch row 0 is out of range: the dataset has 3 examples');
  });

  test('shape and range errors', () => {
    const metadata = testMetadata({});
    const tokens = (shape: number[], fill = 1): NpyArray => ({ dtype: 'uint8', shape, data: new Uint8Array(shape[0] * (shape[1] ?? 1)).fill(fill) });

    expect(() => buildReferenceDataset(metadata, { inputs: tokens([2, 5]), labels: tokens([2, 5]) }, 'f')).toThrow(
      'f/all__inputs.npy has shape (2, 5), expected (examples, 4) with seq_len 4 from dataset.json',
    );
    expect(() => buildReferenceDataset(metadata, { inputs: tokens([2, 4]), labels: tokens([1, 4]) }, 'f')).toThrow(
      'f/all__labels.npy has shape (1, 4), expected (2, 4) like all__inputs.npy',
    );
    expect(() => buildReferenceDataset(metadata, { inputs: tokens([2, 4], 6), labels: tokens([2, 4]) }, 'f')).toThrow(
      'f/all__inputs.npy: example 0, position 0 has token 6, expected 0 to 5 (vocab_size 6 in dataset.json)',
    );
    expect(() => buildReferenceDataset(metadata, { inputs: tokens([3, 4]), labels: tokens([3, 4]) }, 'f')).toThrow(
      'f/all__puzzle_indices.npy is missing, and total_puzzles 2 in dataset.json differs from the 3 examples',
    );
    const badIndices: NpyArray = { dtype: 'int32', shape: [3], data: Int32Array.from([0, 2, 1]) };
    expect(() => buildReferenceDataset(metadata, { inputs: tokens([2, 4]), labels: tokens([2, 4]), puzzleIndices: badIndices }, 'f')).toThrow(
      'f/all__puzzle_indices.npy runs from 0 to 1, expected 0 to 2',
    );
  });

  test('dataset.json errors', async () => {
    expect(() => parseReferenceMetadata('{"seq_len": 81}', 'd.json')).toThrow("d.json: field 'vocab_size' is missing");
    expect(() => parseReferenceMetadata(JSON.stringify({ ...testMetadata({}), seq_len: '81' }), 'd.json')).toThrow(
      `d.json: field 'seq_len' is "81", expected a non-negative integer`,
    );
    expect(() => parseReferenceMetadata('{', 'd.json')).toThrow('d.json: invalid JSON');
    expect(() => parseReferenceMetadata(JSON.stringify({ ...testMetadata({}), sets: [] }), 'd.json')).toThrow("d.json: field 'sets' is [], expected a non-empty list");

    const folder = join(tempFolder, 'other-set');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'dataset.json'), JSON.stringify(testMetadata({})));
    await expect(readReferenceDataset(folder, 'train')).rejects.toThrow(`set 'train' is not listed in sets ["all"]`);
  });
});

function testMetadata(overrides: Partial<ReferenceMetadata>): ReferenceMetadata {
  return {
    seq_len: 4,
    vocab_size: 6,
    pad_id: 0,
    ignore_label_id: 0,
    blank_identifier_id: 0,
    num_puzzle_identifiers: 1,
    total_groups: 2,
    mean_puzzle_examples: 1,
    total_puzzles: 2,
    sets: ['all'],
    ...overrides,
  };
}

/** Builds a safetensors file from a header object and the data section. */
function safetensorsWith(header: unknown, data: Uint8Array, headerText = JSON.stringify(header)): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const bytes = new Uint8Array(8 + json.length + data.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
  bytes.set(json, 8);
  bytes.set(data, 8 + json.length);
  return bytes;
}

describe('safetensors files', () => {
  test('F32 and I32 round trip', () => {
    const weight = Float32Array.from([0.5, -1.25, 3e-8, 1e30, 0, -0]);
    const steps = Int32Array.from([7, -7]);
    const bytes = serializeSafetensors({ 'layer.weight': { shape: [2, 3], data: weight }, step: { shape: [2], data: steps } }, { format: 'pt' });
    const parsed = parseSafetensors(bytes);

    expect(parsed.metadata).toEqual({ format: 'pt' });
    expect([...parsed.tensors.keys()]).toEqual(['layer.weight', 'step']);
    expect(parsed.tensors.get('layer.weight')).toEqual({ dtype: 'F32', shape: [2, 3], data: weight });
    expect(parsed.tensors.get('step')).toEqual({ dtype: 'I32', shape: [2], data: steps });
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0);
  });

  test('half-precision bit patterns', () => {
    expect(float16ToFloat32(0x3c00)).toBe(1);
    expect(float16ToFloat32(0xc000)).toBe(-2);
    expect(float16ToFloat32(0x7bff)).toBe(65504);
    expect(float16ToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16ToFloat32(0x3555)).toBeCloseTo(1 / 3, 3);
    expect(float16ToFloat32(0x7c00)).toBe(Infinity);
    expect(float16ToFloat32(0xfc00)).toBe(-Infinity);
    expect(float16ToFloat32(0x7e00)).toBeNaN();
    expect(Object.is(float16ToFloat32(0x8000), -0)).toBe(true);

    expect(bfloat16ToFloat32(0x3f80)).toBe(1);
    expect(bfloat16ToFloat32(0x4049)).toBe(3.140625);
    expect(bfloat16ToFloat32(0xc2f7)).toBe(-123.5);
    expect(bfloat16ToFloat32(0x7f80)).toBe(Infinity);
  });

  test('F16, BF16 and I64 read as wider types', () => {
    const half = Uint16Array.from([0x3c00, 0xc000, 0x0001]);
    const brain = Uint16Array.from([0x3f80, 0x4049]);
    const long = BigInt64Array.from([-3n, 2n ** 40n]);
    const data = new Uint8Array([...bytesOf(half), ...bytesOf(brain), ...bytesOf(long)]);
    const header = {
      h: { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
      b: { dtype: 'BF16', shape: [1, 2], data_offsets: [6, 10] },
      l: { dtype: 'I64', shape: [2], data_offsets: [10, 26] },
    };
    const tensors = parseSafetensors(safetensorsWith(header, data)).tensors;

    expect(tensors.get('h')).toEqual({ dtype: 'F16', shape: [3], data: Float32Array.from([1, -2, 2 ** -24]) });
    expect(tensors.get('b')).toEqual({ dtype: 'BF16', shape: [1, 2], data: Float32Array.from([1, 3.140625]) });
    expect(tensors.get('l')).toEqual({ dtype: 'I64', shape: [2], data: long });
  });

  test('rejects corrupt files', () => {
    const valid = serializeSafetensors({ a: { shape: [2], data: Float32Array.from([1, 2]) } });
    const data = new Uint8Array(16);
    const corrupt = (header: unknown, headerText?: string): Uint8Array => safetensorsWith(header, data, headerText);

    expect(() => parseSafetensors(valid.subarray(0, valid.length - 4), 'w.st')).toThrow("w.st: tensor 'a' has data_offsets [0, 8] beyond the 4-byte data section");
    expect(() => parseSafetensors(valid.subarray(0, 5), 'w.st')).toThrow('w.st: the file is 5 bytes, too short for the 8-byte header length');

    const longHeader = valid.slice();
    new DataView(longHeader.buffer).setBigUint64(0, 1n << 40n, true);
    expect(() => parseSafetensors(longHeader, 'w.st')).toThrow('w.st: the header length 1099511627776 runs past the end of the file');

    const overlapping = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [3], data_offsets: [4, 16] } };
    expect(() => parseSafetensors(corrupt(overlapping), 'w.st')).toThrow("w.st: tensors 'a' (bytes 0 to 8) and 'b' (bytes 4 to 16) overlap");

    const gap = { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } };
    expect(() => parseSafetensors(corrupt(gap), 'w.st')).toThrow('w.st: data bytes 4 to 8 belong to no tensor');

    const wrongSize = { a: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } };
    expect(() => parseSafetensors(corrupt(wrongSize), 'w.st')).toThrow("w.st: tensor 'a' has 16 data bytes, expected 12 for F32 shape [3]");

    const unknownDtype = { a: { dtype: 'F64', shape: [2], data_offsets: [0, 16] } };
    expect(() => parseSafetensors(corrupt(unknownDtype), 'w.st')).toThrow(`w.st: tensor 'a' has dtype "F64", expected one of F32, F16, BF16, I32, I64`);

    expect(() => parseSafetensors(corrupt(null, '{"a": '), 'w.st')).toThrow('w.st: the header (bytes 8 to 14) is not valid UTF-8 JSON');
    expect(() => parseSafetensors(corrupt({ __metadata__: { epoch: 3 } }), 'w.st')).toThrow('w.st: __metadata__ must be an object of strings');
  });

  test('rejects unwritable tensors', () => {
    expect(() => serializeSafetensors({ a: { shape: [3], data: new Float32Array(2) } })).toThrow("tensor 'a' has shape [3], which does not match its 2 elements");
    expect(() => serializeSafetensors({ __metadata__: { shape: [0], data: new Float32Array(0) } })).toThrow('tensor name "__metadata__" is reserved or empty');
  });

  test('atomic file write replaces whole file', async () => {
    const folder = join(tempFolder, 'atomic');
    mkdirSync(folder);
    const path = join(folder, 'model.safetensors');

    await writeSafetensorsFile(path, { w: { shape: [3], data: Float32Array.from([1, 2, 3]) } });
    await writeSafetensorsFile(path, { w: { shape: [1], data: Float32Array.from([9]) } }, { step: '10' });
    const read = await readSafetensorsFile(path);

    expect(read.metadata).toEqual({ step: '10' });
    expect(Array.from(read.tensors.get('w')?.data as Float32Array)).toEqual([9]);
    expect(readdirSync(folder)).toEqual(['model.safetensors']);
  });

  test('failed atomic write leaves no temp file', async () => {
    const folder = join(tempFolder, 'atomic-fail');
    mkdirSync(join(folder, 'target'), { recursive: true });
    writeFileSync(join(folder, 'target', 'keep.txt'), 'kept');

    // Renaming a file over a non-empty folder fails, after the temp file was written.
    await expect(writeFileAtomic(join(folder, 'target'), new Uint8Array(8))).rejects.toThrow(/EISDIR|ENOTEMPTY|EEXIST|EPERM/);
    expect(readdirSync(folder)).toEqual(['target']);
    expect(readFileSync(join(folder, 'target', 'keep.txt'), 'utf8')).toBe('kept');
  });
});
