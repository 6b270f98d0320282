// NumPy .npy files: format versions 1.0, 2.0 and 3.0, C order, little-endian u1, i4, i8 and f4.
// Layout: the magic "\x93NUMPY", major and minor version bytes, the header length (uint16 in
// version 1, uint32 later), a Python dict literal header, then the raw array data.
//
// NOTE: typed arrays use the host byte order; every platform Node and WebGPU run on is
// little-endian, which is what this module assumes.

export type NpyDtype = 'uint8' | 'int32' | 'int64' | 'float32';
export type NpyData = Uint8Array | Int32Array | BigInt64Array | Float32Array;

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** Elements in C (row-major) order. */
  data: NpyData;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
const HEADER_ALIGNMENT = 64;

const DTYPE_BY_DESCR: Readonly<Record<string, NpyDtype>> = {
  '|u1': 'uint8',
  '<u1': 'uint8',
  '<i4': 'int32',
  '<i8': 'int64',
  '<f4': 'float32',
};

const DESCR_BY_DTYPE: Readonly<Record<NpyDtype, string>> = { uint8: '|u1', int32: '<i4', int64: '<i8', float32: '<f4' };
const ITEM_SIZE: Readonly<Record<NpyDtype, number>> = { uint8: 1, int32: 4, int64: 8, float32: 4 };

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dimension) => product * dimension, 1);
}

/** Formats a shape the way NumPy prints it: (1000, 81), (5,) or (). */
export function formatShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** Returns the dtype that matches a typed array's element type. */
export function dtypeOf(data: NpyData): NpyDtype {
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  return 'float32';
}

interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
  dataOffset: number;
}

function readHeaderBytes(bytes: Uint8Array, name: string): { text: string; dataOffset: number } {
  if (bytes.length < 10 || MAGIC.some((value, i) => bytes[i] !== value)) {
    throw new Error(`${name}: not a .npy file (expected the magic string \\x93NUMPY at the start)`);
  }

  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major !== 1 && major !== 2 && major !== 3) {
    throw new Error(`${name}: .npy format version ${major}.${bytes[7]} is not supported (expected 1.0, 2.0 or 3.0)`);
  }
  if (major > 1 && bytes.length < 12) throw new Error(`${name}: the file ends inside the .npy header`);

  const headerStart = major === 1 ? 10 : 12;
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataOffset = headerStart + headerLength;
  if (dataOffset > bytes.length) {
    throw new Error(`${name}: the header length ${headerLength} runs past the end of the file (${bytes.length} bytes)`);
  }

  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataOffset));
  return { text, dataOffset };
}

function parseHeaderDict(text: string, name: string): { descr: string; fortranOrder: boolean; shape: number[] } {
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text);
  const fortranOrder = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text);
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortranOrder || !shape) {
    throw new Error(`${name}: the .npy header ${JSON.stringify(text.trim())} needs 'descr' (a simple dtype string), 'fortran_order' and 'shape'`);
  }

  const dimensions = shape[1].split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (dimensions.some((part) => !/^\d+L?$/.test(part))) {
    throw new Error(`${name}: the shape (${shape[1]}) is invalid: expected non-negative integers`);
  }

  return { descr: descr[1], fortranOrder: fortranOrder[1] === 'True', shape: dimensions.map((part) => Number.parseInt(part, 10)) };
}

function parseHeader(bytes: Uint8Array, name: string): NpyHeader {
  const { text, dataOffset } = readHeaderBytes(bytes, name);
  const { descr, fortranOrder, shape } = parseHeaderDict(text, name);

  if (fortranOrder) {
    throw new Error(`${name}: Fortran-order arrays are not supported; save the array with np.ascontiguousarray(a) first`);
  }
  if (descr.startsWith('>')) {
    throw new Error(`${name}: big-endian dtype '${descr}' is not supported; convert it with a.astype('<${descr.slice(1)}')`);
  }
  const dtype = DTYPE_BY_DESCR[descr];
  if (!dtype) {
    throw new Error(`${name}: dtype '${descr}' is not supported (expected one of ${Object.keys(DTYPE_BY_DESCR).join(', ')})`);
  }
  return { dtype, shape, dataOffset };
}

function viewAs(dtype: NpyDtype, buffer: ArrayBuffer): NpyData {
  switch (dtype) {
    case 'uint8':
      return new Uint8Array(buffer);
    case 'int32':
      return new Int32Array(buffer);
    case 'int64':
      return new BigInt64Array(buffer);
    case 'float32':
      return new Float32Array(buffer);
  }
}

/** Parses a .npy file. The returned data is a copy and never aliases bytes. */
export function parseNpy(bytes: Uint8Array, name = '.npy data'): NpyArray {
  const { dtype, shape, dataOffset } = parseHeader(bytes, name);

  const expectedBytes = elementCount(shape) * ITEM_SIZE[dtype];
  const actualBytes = bytes.length - dataOffset;
  if (actualBytes !== expectedBytes) {
    throw new Error(`${name}: the file has ${actualBytes} data bytes, expected ${expectedBytes} for shape ${formatShape(shape)} and dtype ${DESCR_BY_DTYPE[dtype]}`);
  }

  // Copying into a fresh buffer also aligns the data for the typed array view.
  const start = bytes.byteOffset + dataOffset;
  const buffer = bytes.buffer.slice(start, start + expectedBytes) as ArrayBuffer;
  return { dtype, shape, data: viewAs(dtype, buffer) };
}

/** Serialises an array as a version 1.0 .npy file (2.0 when the header exceeds 65535 bytes). */
export function serializeNpy(array: NpyArray): Uint8Array {
  const { dtype, shape, data } = array;
  if (dtypeOf(data) !== dtype) {
    throw new TypeError(`array data is ${data.constructor.name}, which does not match dtype '${dtype}'`);
  }
  if (shape.some((dimension) => !Number.isInteger(dimension) || dimension < 0) || elementCount(shape) !== data.length) {
    throw new RangeError(`shape ${formatShape(shape)} is invalid for ${data.length} elements`);
  }

  // The header ends with '\n' and is padded with spaces so the data starts 64-byte aligned.
  const dict = `{'descr': '${DESCR_BY_DTYPE[dtype]}', 'fortran_order': False, 'shape': ${formatShape(shape)}, }`;
  const paddedLengthAfter = (headerStart: number): number =>
    Math.ceil((headerStart + dict.length + 1) / HEADER_ALIGNMENT) * HEADER_ALIGNMENT - headerStart;
  const version = paddedLengthAfter(10) <= 0xffff ? 1 : 2;
  const headerStart = version === 1 ? 10 : 12;
  const paddedLength = paddedLengthAfter(headerStart);
  const header = dict.padEnd(paddedLength - 1, ' ') + '\n';

  const bytes = new Uint8Array(headerStart + paddedLength + data.byteLength);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  bytes[6] = version;
  bytes[7] = 0;
  if (version === 1) view.setUint16(8, paddedLength, true);
  else view.setUint32(8, paddedLength, true);
  for (let i = 0; i < header.length; i++) bytes[headerStart + i] = header.charCodeAt(i);
  bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), headerStart + paddedLength);
  return bytes;
}

/**
 * Converts an integer array to Int32Array (uint8 and int64 widen or narrow; int64 values must
 * fit in int32). Used for index arrays that NumPy may have stored as either width.
 */
export function toInt32Array(array: NpyArray, name: string): Int32Array {
  const { data } = array;
  if (data instanceof Int32Array) return data;
  if (data instanceof Float32Array) throw new TypeError(`${name}: dtype float32 is invalid here, expected an integer dtype`);
  if (data instanceof Uint8Array) return Int32Array.from(data);

  const result = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const value = data[i];
    if (value < -2147483648n || value > 2147483647n) {
      throw new RangeError(`${name}: element ${i} is ${value}, which does not fit in int32`);
    }
    result[i] = Number(value);
  }
  return result;
}

/** Reads a .npy file in Node. */
export async function readNpyFile(path: string): Promise<NpyArray> {
  const { readFile } = await import('node:fs/promises');
  return parseNpy(await readFile(path), path);
}

/** Writes a .npy file in Node. */
export async function writeNpyFile(path: string, array: NpyArray): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(path, serializeNpy(array));
}
