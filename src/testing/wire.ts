// Typed arrays as base64 text, so kernel inputs and outputs cross into a browser page and
// back bit for bit (JSON would turn NaN and ±Infinity into null).

export type Dtype = 'f32' | 'i32' | 'u32';
export type TypedData = Float32Array | Int32Array | Uint32Array;

export interface WireTensor {
  dtype: Dtype;
  base64: string;
}

export function toWire(data: TypedData): WireTensor {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let text = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    text += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return { dtype: dtypeOf(data), base64: btoa(text) };
}

export function fromWire(wire: WireTensor): TypedData {
  const text = atob(wire.base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  if (wire.dtype === 'f32') return new Float32Array(bytes.buffer);
  if (wire.dtype === 'i32') return new Int32Array(bytes.buffer);
  return new Uint32Array(bytes.buffer);
}

export function dtypeOf(data: TypedData): Dtype {
  if (data instanceof Float32Array) return 'f32';
  if (data instanceof Int32Array) return 'i32';
  return 'u32';
}

/**
 * Encodes a value tree so that it survives JSON: typed arrays become { typed: WireTensor }, and
 * NaN, ±Infinity and −0 become { number: text }. Objects and arrays are walked, and other
 * values pass unchanged.
 */
export function encodeMessage(value: unknown): unknown {
  if (value instanceof Float32Array || value instanceof Int32Array || value instanceof Uint32Array) return { typed: toWire(value) };
  if (ArrayBuffer.isView(value)) throw new TypeError(`encodeMessage: ${value.constructor.name} has no wire dtype; use Float32Array, Int32Array or Uint32Array`);
  if (typeof value === 'number' && (!Number.isFinite(value) || Object.is(value, -0))) return { number: Object.is(value, -0) ? '-0' : String(value) };
  if (Array.isArray(value)) return value.map(encodeMessage);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, encodeMessage(entry)]));
  return value;
}

/** Reverses encodeMessage. */
export function decodeMessage(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeMessage);
  if (typeof value !== 'object' || value === null) return value;

  const tagged = value as { typed?: WireTensor; number?: string };
  const keys = Object.keys(value);
  if (keys.length === 1 && tagged.typed !== undefined) return fromWire(tagged.typed);
  if (keys.length === 1 && tagged.number !== undefined) return Number(tagged.number);
  return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, decodeMessage(entry)]));
}
