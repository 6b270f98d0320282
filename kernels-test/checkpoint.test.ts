import { describe, expect, test } from 'vitest';
import { parseSafetensors, serializeSafetensors, type WritableTensor } from '../src/io/safetensors.js';
import { CONFIG_METADATA_KEY, decodeModelCheckpoint, encodeModelCheckpoint } from '../src/model/checkpoint.js';
import { trmConfig } from '../src/model/config.js';
import { initializeParameters } from '../src/model/init.js';
import { denseLayout, tensorSpecs, LM_HEAD, Q_HEAD_BIAS } from '../src/model/parameters.js';
import { slotSizes } from '../src/kernels/halting.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/train/state.js';

const mlp = trmConfig('test-tiny');
const att = trmConfig('test-tiny', { variant: 'att' });

/** Re-serialises a checkpoint's tensors under a transformed name, dtype or shape. */
function rewrite(bytes: Uint8Array, change: (name: string, tensor: WritableTensor) => [string, WritableTensor] | null, keepMetadata = true): Uint8Array {
  const contents = parseSafetensors(bytes);
  const tensors = new Map<string, WritableTensor>();
  for (const [name, tensor] of contents.tensors) {
    const changed = change(name, { shape: tensor.shape, data: tensor.data as Float32Array });
    if (changed) tensors.set(changed[0], changed[1]);
  }
  return serializeSafetensors(tensors, keepMetadata ? contents.metadata : {});
}

/** Rounds float32 values to bfloat16 bits, stored in the upper half of each value. */
function toBf16Bytes(data: Float32Array): Uint8Array {
  const words = new Uint32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const out = new Uint16Array(words.length);
  for (let i = 0; i < words.length; i++) out[i] = words[i] >>> 16;
  return new Uint8Array(out.buffer);
}

describe('model checkpoint', () => {
  test.each([mlp, att])('round trip keeps every tensor ($variant)', (config) => {
    const params = initializeParameters(config, 7);
    const decoded = decodeModelCheckpoint(encodeModelCheckpoint(config, params, { step: '12' }), 'memory');

    expect(decoded.config).toEqual(config);
    expect(decoded.metadata.step).toBe('12');
    expect(Array.from(decoded.params.dense)).toEqual(Array.from(params.dense));
    expect(Array.from(decoded.params.puzzleEmb)).toEqual(Array.from(params.puzzleEmb));
    expect(Array.from(decoded.params.hInit)).toEqual(Array.from(params.hInit));
    expect(Array.from(decoded.params.lInit)).toEqual(Array.from(params.lInit));
  });

  test('tensor names are the reference state_dict names', () => {
    const bytes = encodeModelCheckpoint(mlp, initializeParameters(mlp, 1));
    const names = [...parseSafetensors(bytes).tensors.keys()].sort();
    expect(names).toEqual(tensorSpecs(mlp).map((spec) => spec.name).sort());
    expect(names).toContain('L_level.layers.0.mlp_t.gate_up_proj.weight');
    expect(names).toContain('q_head.bias');
  });

  test.each(['model.inner.', '_orig_mod.model.inner.'])('accepts the %s prefix', (prefix) => {
    const params = initializeParameters(mlp, 3);
    const bytes = rewrite(encodeModelCheckpoint(mlp, params), (name, tensor) => [prefix + name, tensor]);
    const decoded = decodeModelCheckpoint(bytes, 'prefixed');
    expect(Array.from(decoded.params.dense)).toEqual(Array.from(params.dense));
  });

  test('converts bf16 tensors to f32', () => {
    const params = initializeParameters(mlp, 4);
    const encoded = encodeModelCheckpoint(mlp, params);
    const contents = parseSafetensors(encoded);
    const lmHead = contents.tensors.get(LM_HEAD)?.data as Float32Array;

    // The serializer writes only F32 and I32, so the BF16 file is built by hand.
    const rebuilt = buildWithRawTensor(encoded, LM_HEAD, 'BF16', toBf16Bytes(lmHead));
    const decoded = decodeModelCheckpoint(rebuilt, 'bf16');

    const slot = denseLayout(mlp).byName.get(LM_HEAD);
    const loaded = decoded.params.dense.subarray(slot!.offset, slot!.offset + slot!.size);
    for (let i = 0; i < lmHead.length; i++) {
      expect(Math.abs(loaded[i] - lmHead[i]), `element ${i}`).toBeLessThanOrEqual(Math.abs(lmHead[i]) * 2 ** -7);
    }
  });

  test('rejects a wrong shape by tensor name', () => {
    const bytes = rewrite(encodeModelCheckpoint(mlp, initializeParameters(mlp, 1)), (name, tensor) =>
      name === Q_HEAD_BIAS ? [name, { shape: [3], data: new Float32Array(3) }] : [name, tensor],
    );
    expect(() => decodeModelCheckpoint(bytes, 'bad.safetensors')).toThrow(/invalid checkpoint bad\.safetensors: tensor 'q_head\.bias' has shape \[3\], expected \[2\]/);
  });

  test('rejects a missing tensor', () => {
    const bytes = rewrite(encodeModelCheckpoint(mlp, initializeParameters(mlp, 1)), (name, tensor) => (name === LM_HEAD ? null : [name, tensor]));
    expect(() => decodeModelCheckpoint(bytes, 'x')).toThrow(/tensor 'lm_head\.weight' is missing/);
  });

  test('rejects an unknown tensor', () => {
    const bytes = rewrite(encodeModelCheckpoint(mlp, initializeParameters(mlp, 1)), (name, tensor) => [name === LM_HEAD ? 'lm_head.weights' : name, tensor]);
    expect(() => decodeModelCheckpoint(bytes, 'x')).toThrow(/unexpected tensors for a mlp model: lm_head\.weights/);
  });

  test('rejects attention tensors for an mlp config', () => {
    const bytes = rewrite(encodeModelCheckpoint(att, initializeParameters(att, 1)), (name, tensor) => [name, tensor], false);
    expect(() => decodeModelCheckpoint(bytes, 'x', mlp)).toThrow(/unexpected tensors for a mlp model: L_level\.layers\.0\.self_attn/);
  });

  test('needs a config when the file has none', () => {
    const bytes = rewrite(encodeModelCheckpoint(mlp, initializeParameters(mlp, 1)), (name, tensor) => [name, tensor], false);
    expect(() => decodeModelCheckpoint(bytes, 'x')).toThrow(new RegExp(`has no '${CONFIG_METADATA_KEY}' metadata`));
    expect(decodeModelCheckpoint(bytes, 'x', mlp).config).toEqual(mlp);
  });

  test('rejects a requested config with other shapes', () => {
    const bytes = encodeModelCheckpoint(mlp, initializeParameters(mlp, 1));
    expect(() => decodeModelCheckpoint(bytes, 'x', { ...mlp, hidden: 16 })).toThrow(/hidden 8 in the file, 16 requested/);
  });

  test('rejects NaN weights', () => {
    const params = initializeParameters(mlp, 1);
    params.dense[5] = Number.NaN;
    expect(() => decodeModelCheckpoint(encodeModelCheckpoint(mlp, params), 'x')).toThrow(/contains NaN at element 5/);
  });

  test('rejects a truncated file', () => {
    const bytes = encodeModelCheckpoint(mlp, initializeParameters(mlp, 1));
    expect(() => decodeModelCheckpoint(bytes.subarray(0, bytes.length - 10), 'cut.safetensors')).toThrow(/invalid checkpoint cut\.safetensors/);
  });
});

/** Rebuilds a safetensors file with one tensor replaced by raw bytes of another dtype. */
function buildWithRawTensor(original: Uint8Array, name: string, dtype: string, raw: Uint8Array): Uint8Array {
  const view = new DataView(original.buffer, original.byteOffset);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(original.subarray(8, 8 + headerLength))) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const data = original.subarray(8 + headerLength);

  const names = Object.keys(header).filter((key) => key !== '__metadata__').sort((a, b) => header[a].data_offsets[0] - header[b].data_offsets[0]);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const key of names) {
    const entry = header[key];
    const bytes = key === name ? raw : data.subarray(entry.data_offsets[0], entry.data_offsets[1]);
    if (key === name) entry.dtype = dtype;
    entry.data_offsets = [offset, offset + bytes.length];
    offset += bytes.length;
    chunks.push(bytes);
  }

  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.fill(0x20, 8, 8 + padded);
  out.set(json, 8);
  let position = 8 + padded;
  for (const chunk of chunks) {
    out.set(chunk, position);
    position += chunk.length;
  }
  return out;
}

describe('training checkpoint', () => {
  const params = initializeParameters(mlp, 5);
  const length = params.dense.length;
  const snapshot = {
    step: 42,
    params,
    ema: params.dense.map((value) => value * 0.5),
    adamM: new Float32Array(length).fill(0.25),
    adamV: new Float32Array(length).fill(0.125),
  };

  test('round trip restores the whole state', () => {
    const saved = decodeCheckpoint(encodeCheckpoint(mlp, snapshot, { epoch: 3, position: 17 }), 'run');
    expect(saved.snapshot.step).toBe(42);
    expect(saved.batcher).toEqual({ epoch: 3, position: 17 });
    expect(Array.from(saved.snapshot.params.dense)).toEqual(Array.from(params.dense));
    expect(Array.from(saved.snapshot.ema)).toEqual(Array.from(snapshot.ema));
    expect(Array.from(saved.snapshot.adamM)).toEqual(Array.from(snapshot.adamM));
    expect(Array.from(saved.snapshot.adamV)).toEqual(Array.from(snapshot.adamV));
  });

  test('model loader reads the EMA weights', () => {
    const model = decodeModelCheckpoint(encodeCheckpoint(mlp, snapshot, { epoch: 0, position: 0 }), 'run');
    expect(Array.from(model.params.dense)).toEqual(Array.from(snapshot.ema));
    expect(model.metadata.weights).toBe('ema');
  });

  function exampleSlots() {
    const sizes = slotSizes({ batch: mlp.batch, prefix: mlp.puzzleEmbSlots, seq: mlp.seqLen, hidden: mlp.hidden, maxSteps: mlp.maxSupervisionSteps });
    return {
      y: Float32Array.from({ length: sizes.carry }, (_, i) => i * 0.5 - 3),
      z: Float32Array.from({ length: sizes.carry }, (_, i) => -i),
      tokens: Int32Array.from({ length: sizes.tokens }, (_, i) => i % 7),
      labels: Int32Array.from({ length: sizes.tokens }, (_, i) => (i % 5) - 100),
      puzzleIds: Int32Array.from({ length: mlp.batch }, (_, i) => i),
      steps: Uint32Array.from({ length: mlp.batch }, (_, i) => i + 1),
      halted: Uint32Array.from({ length: mlp.batch }, (_, i) => i % 2),
      minSteps: Uint32Array.from({ length: mlp.batch }, () => 0xffffffff),
    };
  }

  test('round trip restores slots, generator and variants', () => {
    const slots = exampleSlots();
    const explorationRng: [number, number, number, number] = [1, 0xffffffff, 0, 77];
    const variants = { '4x4x4x1 a(4,1,0)+0 b(4,1,0)+0': 'registers' as const };
    const saved = decodeCheckpoint(encodeCheckpoint(mlp, { ...snapshot, slots, explorationRng }, { epoch: 0, position: 5 }, variants), 'run');

    for (const [field, data] of Object.entries(slots)) {
      const restored = saved.snapshot.slots?.[field as keyof typeof slots];
      expect(restored?.constructor, field).toBe(data.constructor);
      expect(Array.from(restored ?? []), field).toEqual(Array.from(data));
    }
    expect(saved.snapshot.explorationRng).toEqual(explorationRng);
    expect(saved.matmulChoices).toEqual(variants);
  });

  test('older file resumes without slot state', () => {
    const saved = decodeCheckpoint(encodeCheckpoint(mlp, snapshot, { epoch: 0, position: 0 }), 'run');
    expect(saved.snapshot.slots).toBeUndefined();
    expect(saved.snapshot.explorationRng).toBeUndefined();
    expect(saved.matmulChoices).toEqual({});
  });

  test('rejects a partial slot state', () => {
    const complete = encodeCheckpoint(mlp, { ...snapshot, slots: exampleSlots() }, { epoch: 0, position: 0 });
    const partial = rewrite(complete, (name, tensor) => (name === 'train.slots.z' ? null : [name, tensor]));
    expect(() => decodeCheckpoint(partial, 'run')).toThrow(/tensor 'train\.slots\.z' is missing but other slot tensors are present/);
  });

  test.each([
    ['batcher', '{"epoch": -1, "position": 0}', /metadata 'batcher' is '\{"epoch": -1, "position": 0\}', expected \{"epoch": N, "position": N\}/],
    ['batcher', 'not json', /metadata 'batcher' is 'not json', expected/],
    ['exploration_rng', '[1, 2, 3]', /metadata 'exploration_rng' is '\[1, 2, 3\]', expected null or four 32-bit unsigned integers/],
    ['matmul_variants', '["registers"]', /metadata 'matmul_variants' is '\["registers"\]', expected an object of matmul variant names by shape/],
  ])('rejects invalid %s metadata', (key, text, message) => {
    const valid = encodeCheckpoint(mlp, snapshot, { epoch: 0, position: 0 });
    const contents = parseSafetensors(valid);
    const tensors = new Map([...contents.tensors].map(([name, tensor]) => [name, { shape: tensor.shape, data: tensor.data } as WritableTensor]));
    const invalid = serializeSafetensors(tensors, { ...contents.metadata, [key]: text });
    expect(() => decodeCheckpoint(invalid, 'run')).toThrow(message);
  });

  test('model-only file cannot be resumed', () => {
    const bytes = encodeModelCheckpoint(mlp, params, { step: '1' });
    expect(() => decodeCheckpoint(bytes, 'model.safetensors')).toThrow(/tensor 'train\.params\.dense' is missing, so this is a model without training state/);
  });
});
