// safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length, a UTF-8 JSON header, then the tensor data. The header maps each tensor name
// to { dtype, shape, data_offsets: [begin, end] } with offsets relative to the data section,
// plus an optional "__metadata__" map of strings to strings. As in the huggingface/safetensors
// Rust crate, the tensors must cover the data section exactly, without gaps or overlaps.
//
// NOTE: typed arrays use the host byte order; every platform Node and WebGPU run on is
// little-endian, which is what this module assumes.

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64';

export interface SafetensorsTensor {
  /** The dtype stored in the file. */
  dtype: SafetensorsDtype;
  shape: number[];
  /** F32, F16 and BF16 read as Float32Array, I32 as Int32Array, I64 as BigInt64Array. */
  data: Float32Array | Int32Array | BigInt64Array;
}

export interface SafetensorsContents {
  metadata: Record<string, string>;
  tensors: Map<string, SafetensorsTensor>;
}

/** A tensor to write: Float32Array data is stored as F32, Int32Array data as I32. */
export interface WritableTensor {
  shape: readonly number[];
  data: Float32Array | Int32Array;
}

const DTYPE_SIZE: Readonly<Record<SafetensorsDtype, number>> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 };
const METADATA_KEY = '__metadata__';

interface TensorEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

// ---------------------------------------------------------------------------------------------
// Half-precision conversion

/** Converts IEEE 754 binary16 bits to a number (subnormals, infinities and NaN included). */
export function float16ToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Converts bfloat16 bits (the upper half of a float32) to a number. */
export function bfloat16ToFloat32(bits: number): number {
  const scratch = new Uint32Array([(bits & 0xffff) << 16]);
  return new Float32Array(scratch.buffer)[0];
}

let float16Table: Float32Array | undefined;

function convertFloat16(halves: Uint16Array): Float32Array {
  if (!float16Table) {
    float16Table = new Float32Array(0x10000);
    for (let bits = 0; bits < 0x10000; bits++) float16Table[bits] = float16ToFloat32(bits);
  }
  const result = new Float32Array(halves.length);
  for (let i = 0; i < halves.length; i++) result[i] = float16Table[halves[i]];
  return result;
}

function convertBfloat16(halves: Uint16Array): Float32Array {
  const words = new Uint32Array(halves.length);
  for (let i = 0; i < halves.length; i++) words[i] = halves[i] << 16;
  return new Float32Array(words.buffer);
}

// ---------------------------------------------------------------------------------------------
// Parsing

function product(shape: readonly number[]): number {
  return shape.reduce((total, dimension) => total * dimension, 1);
}

function readHeaderJson(bytes: Uint8Array, source: string): { header: Record<string, unknown>; dataStart: number } {
  if (bytes.length < 8) {
    throw new Error(`${source}: the file is ${bytes.length} bytes, too short for the 8-byte header length`);
  }

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(bytes.length - 8)) {
    throw new Error(`${source}: the header length ${headerLength} runs past the end of the file (${bytes.length - 8} bytes after the length field)`);
  }
  const dataStart = 8 + Number(headerLength);

  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart));
    header = JSON.parse(text);
  } catch (error) {
    throw new Error(`${source}: the header (bytes 8 to ${dataStart}) is not valid UTF-8 JSON: ${(error as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new Error(`${source}: the header is not a JSON object`);
  }
  return { header: header as Record<string, unknown>, dataStart };
}

function parseMetadata(value: unknown, source: string): Record<string, string> {
  if (value === undefined) return {};
  const valid =
    typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((entry) => typeof entry === 'string');
  if (!valid) throw new Error(`${source}: ${METADATA_KEY} must be an object of strings`);
  return { ...(value as Record<string, string>) };
}

function isOffset(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function parseEntry(name: string, value: unknown, dataLength: number, source: string): TensorEntry {
  const where = `${source}: tensor '${name}'`;
  if (typeof value !== 'object' || value === null) throw new Error(`${where} has no {dtype, shape, data_offsets} entry`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;

  if (typeof dtype !== 'string' || !(dtype in DTYPE_SIZE)) {
    throw new Error(`${where} has dtype ${JSON.stringify(dtype)}, expected one of ${Object.keys(DTYPE_SIZE).join(', ')}`);
  }
  if (!Array.isArray(shape) || !shape.every(isOffset)) {
    throw new Error(`${where} has shape ${JSON.stringify(shape)}, expected a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isOffset) || offsets[0] > offsets[1]) {
    throw new Error(`${where} has data_offsets ${JSON.stringify(offsets)}, expected [begin, end] with 0 <= begin <= end`);
  }

  const [begin, end] = offsets as number[];
  if (end > dataLength) {
    throw new Error(`${where} has data_offsets [${begin}, ${end}] beyond the ${dataLength}-byte data section`);
  }
  const expectedBytes = product(shape) * DTYPE_SIZE[dtype as SafetensorsDtype];
  if (end - begin !== expectedBytes) {
    throw new Error(`${where} has ${end - begin} data bytes, expected ${expectedBytes} for ${dtype} shape [${shape.join(', ')}]`);
  }
  return { name, dtype: dtype as SafetensorsDtype, shape, begin, end };
}

/** Checks that the entries tile the data section [0, dataLength) with no gap and no overlap. */
function checkCoverage(entries: TensorEntry[], dataLength: number, source: string): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: TensorEntry | undefined;
  for (const entry of sorted) {
    if (entry.begin < covered && previous) {
      throw new Error(`${source}: tensors '${previous.name}' (bytes ${previous.begin} to ${previous.end}) and '${entry.name}' (bytes ${entry.begin} to ${entry.end}) overlap`);
    }
    if (entry.begin > covered) {
      throw new Error(`${source}: data bytes ${covered} to ${entry.begin} belong to no tensor`);
    }
    covered = entry.end;
    previous = entry;
  }
  if (covered !== dataLength) {
    throw new Error(`${source}: data bytes ${covered} to ${dataLength} belong to no tensor`);
  }
}

function decodeTensor(entry: TensorEntry, bytes: Uint8Array, dataStart: number): SafetensorsTensor {
  // Copying into a fresh buffer also aligns the data for the typed array view.
  const start = bytes.byteOffset + dataStart + entry.begin;
  const buffer = bytes.buffer.slice(start, start + entry.end - entry.begin) as ArrayBuffer;
  const { dtype, shape } = entry;

  switch (dtype) {
    case 'F32':
      return { dtype, shape, data: new Float32Array(buffer) };
    case 'F16':
      return { dtype, shape, data: convertFloat16(new Uint16Array(buffer)) };
    case 'BF16':
      return { dtype, shape, data: convertBfloat16(new Uint16Array(buffer)) };
    case 'I32':
      return { dtype, shape, data: new Int32Array(buffer) };
    case 'I64':
      return { dtype, shape, data: new BigInt64Array(buffer) };
  }
}

/** Parses a safetensors file; source names the file in errors. */
export function parseSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsContents {
  const { header, dataStart } = readHeaderJson(bytes, source);
  const dataLength = bytes.length - dataStart;

  const metadata = parseMetadata(header[METADATA_KEY], source);
  const entries = Object.entries(header)
    .filter(([name]) => name !== METADATA_KEY)
    .map(([name, value]) => parseEntry(name, value, dataLength, source));
  checkCoverage(entries, dataLength, source);

  const tensors = new Map<string, SafetensorsTensor>();
  for (const entry of entries) tensors.set(entry.name, decodeTensor(entry, bytes, dataStart));
  return { metadata, tensors };
}

// ---------------------------------------------------------------------------------------------
// Serialisation

function checkWritableTensor(name: string, tensor: WritableTensor): SafetensorsDtype {
  if (name === '' || name === METADATA_KEY) throw new Error(`tensor name ${JSON.stringify(name)} is reserved or empty`);
  if (!(tensor.data instanceof Float32Array) && !(tensor.data instanceof Int32Array)) {
    throw new TypeError(`tensor '${name}' data must be a Float32Array (F32) or an Int32Array (I32)`);
  }
  if (!tensor.shape.every(isOffset) || product(tensor.shape) !== tensor.data.length) {
    throw new RangeError(`tensor '${name}' has shape [${tensor.shape.join(', ')}], which does not match its ${tensor.data.length} elements`);
  }
  return tensor.data instanceof Float32Array ? 'F32' : 'I32';
}

/** Serialises tensors (sorted by name) as safetensors; metadata is written when non-empty. */
export function serializeSafetensors(
  tensors: Record<string, WritableTensor> | ReadonlyMap<string, WritableTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const byName = tensors instanceof Map ? new Map(tensors) : new Map(Object.entries(tensors));
  const named = [...byName.keys()].sort().map((name) => [name, byName.get(name) as WritableTensor] as const);

  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header[METADATA_KEY] = parseMetadata(metadata, 'metadata');
  let offset = 0;
  for (const [name, tensor] of named) {
    const dtype = checkWritableTensor(name, tensor);
    header[name] = { dtype, shape: [...tensor.shape], data_offsets: [offset, offset + tensor.data.byteLength] };
    offset += tensor.data.byteLength;
  }

  // Spaces pad the header to a multiple of 8 bytes so the data section starts 8-byte aligned.
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const bytes = new Uint8Array(8 + headerLength + offset);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(headerLength), true);
  bytes.fill(0x20, 8, 8 + headerLength);
  bytes.set(json, 8);

  let position = 8 + headerLength;
  for (const [, tensor] of named) {
    bytes.set(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength), position);
    position += tensor.data.byteLength;
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Node files

/**
 * Writes a file so that it is either fully replaced or left as it was: the data goes to a
 * temporary file in the same folder, is flushed to disk, and is renamed over the target.
 */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const { open, rename, rm } = await import('node:fs/promises');
  const { basename, dirname, join } = await import('node:path');
  const { randomBytes } = await import('node:crypto');

  const folder = dirname(path);
  const tempPath = join(folder, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let renamed = false;
  try {
    const handle = await open(tempPath, 'wx');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tempPath, path);
    renamed = true;
  } finally {
    if (!renamed) await rm(tempPath, { force: true });
  }
  await syncFolder(folder);
}

/** Flushes a folder entry so a rename survives a power loss; Windows cannot open folders for this. */
async function syncFolder(folder: string): Promise<void> {
  if (process.platform === 'win32') return;
  const { open } = await import('node:fs/promises');
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function readSafetensorsFile(path: string): Promise<SafetensorsContents> {
  const { readFile } = await import('node:fs/promises');
  return parseSafetensors(await readFile(path), path);
}

/** Writes a safetensors file atomically (see writeFileAtomic). */
export async function writeSafetensorsFile(
  path: string,
  tensors: Record<string, WritableTensor> | ReadonlyMap<string, WritableTensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
