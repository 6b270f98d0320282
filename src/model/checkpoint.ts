// Model checkpoints as safetensors: tensors named and shaped as the reference PyTorch
// state_dict after its `model.inner.` prefix, float32, with the TrmConfig as JSON in the
// file's metadata. Loading also accepts the reference's own files: the `model.inner.` and
// `_orig_mod.model.inner.` prefixes (a torch.compile'd model) and F16/BF16 tensors.
import { parseSafetensors, serializeSafetensors, type SafetensorsTensor, type WritableTensor } from '../io/safetensors.js';
import { validateConfig, type TrmConfig } from './config.js';
import type { TrmParameters } from './init.js';
import { denseLayout, tensorSpecs, H_INIT, L_INIT, PUZZLE_EMBEDDING } from './parameters.js';

/** Metadata key of the model configuration (JSON of a TrmConfig). */
export const CONFIG_METADATA_KEY = 'trm_config';
export const FORMAT_METADATA_KEY = 'format';
export const CHECKPOINT_FORMAT = 'trm-webgpu/model/1';

/**
 * Prefix of the training state (raw weights, optimizer moments) that training checkpoints
 * carry beside the model; loading a model ignores these tensors.
 */
export const TRAINING_STATE_PREFIX = 'train.';

/** Prefixes of the reference checkpoints' tensor names, longest first. */
const REFERENCE_PREFIXES = ['_orig_mod.model.inner.', 'model.inner.'];

export class CheckpointError extends Error {
  constructor(source: string, message: string) {
    super(`invalid checkpoint ${source}: ${message}`);
    this.name = 'CheckpointError';
  }
}

export interface ModelCheckpoint {
  config: TrmConfig;
  params: TrmParameters;
  /** Every metadata entry of the file, the config included. */
  metadata: Record<string, string>;
  /** Every tensor of the file as stored, training state included. */
  tensors: ReadonlyMap<string, SafetensorsTensor>;
}

/** Serialises a model's tensors with its config; `metadata` adds entries such as the step. */
export function encodeModelCheckpoint(
  config: TrmConfig,
  params: TrmParameters,
  metadata: Record<string, string> = {},
  extraTensors: ReadonlyMap<string, WritableTensor> = new Map(),
): Uint8Array {
  validateConfig(config);
  const layout = denseLayout(config);
  if (params.dense.length !== layout.length) {
    throw new Error(`dense parameters have ${params.dense.length} elements, expected ${layout.length} for this config`);
  }

  const tensors = new Map<string, WritableTensor>();
  for (const slot of layout.tensors) {
    tensors.set(slot.name, { shape: slot.shape, data: params.dense.slice(slot.offset, slot.offset + slot.size) });
  }
  tensors.set(PUZZLE_EMBEDDING, { shape: [config.numPuzzleIds, config.hidden], data: params.puzzleEmb });
  tensors.set(H_INIT, { shape: [config.hidden], data: params.hInit });
  tensors.set(L_INIT, { shape: [config.hidden], data: params.lInit });
  for (const [name, tensor] of extraTensors) {
    if (!name.startsWith(TRAINING_STATE_PREFIX)) throw new Error(`extra checkpoint tensor '${name}' must start with '${TRAINING_STATE_PREFIX}'`);
    tensors.set(name, tensor);
  }

  return serializeSafetensors(tensors, {
    ...metadata,
    [FORMAT_METADATA_KEY]: CHECKPOINT_FORMAT,
    [CONFIG_METADATA_KEY]: JSON.stringify(config),
  });
}

/**
 * Reads a model checkpoint. The config comes from the file's metadata; a reference PyTorch
 * checkpoint has none, so `config` must be given for it (and, when both exist, they must agree
 * on every shape-determining field). Every tensor the config needs must be present with its
 * exact shape; unknown tensors are rejected by name.
 */
export function decodeModelCheckpoint(bytes: Uint8Array, source: string, config?: TrmConfig): ModelCheckpoint {
  let contents;
  try {
    contents = parseSafetensors(bytes, source);
  } catch (cause) {
    const message = (cause as Error).message;
    throw new CheckpointError(source, message.startsWith(`${source}: `) ? message.slice(source.length + 2) : message);
  }

  const resolved = resolveConfig(source, contents.metadata, config);
  const modelTensors = new Map([...contents.tensors].filter(([name]) => !name.startsWith(TRAINING_STATE_PREFIX)));
  const params = collectParameters(source, resolved, stripPrefixes(source, modelTensors));
  return { config: resolved, params, metadata: contents.metadata, tensors: contents.tensors };
}

export async function saveModelCheckpoint(path: string, config: TrmConfig, params: TrmParameters, metadata: Record<string, string> = {}): Promise<void> {
  const { writeFileAtomic } = await import('../io/safetensors.js');
  await writeFileAtomic(path, encodeModelCheckpoint(config, params, metadata));
}

export async function loadModelCheckpoint(path: string, config?: TrmConfig): Promise<ModelCheckpoint> {
  return decodeModelCheckpoint(await readCheckpointFile(path), path, config);
}

/** Reads a checkpoint file's bytes; a missing file is reported as not found, not as invalid. */
export async function readCheckpointFile(path: string): Promise<Uint8Array> {
  const { readFile } = await import('node:fs/promises');
  try {
    return await readFile(path);
  } catch (cause) {
    const error = cause as NodeJS.ErrnoException;
    if (error.code === 'ENOENT') throw new Error(`checkpoint not found: ${path}`);
    throw new CheckpointError(path, `cannot be read: ${error.message}`);
  }
}

/** Fields that decide tensor shapes; a requested config and the file's must agree on these. */
const SHAPE_FIELDS = ['variant', 'hidden', 'heads', 'headDim', 'expansion', 'swigluMultiple', 'blocks', 'vocab', 'seqLen', 'puzzleEmbSlots', 'numPuzzleIds'] as const;

function resolveConfig(source: string, metadata: Record<string, string>, requested?: TrmConfig): TrmConfig {
  const text = metadata[CONFIG_METADATA_KEY];
  if (text === undefined) {
    if (!requested) throw new CheckpointError(source, `has no '${CONFIG_METADATA_KEY}' metadata; pass the model config explicitly (e.g. --config paper-mlp)`);
    return requested;
  }

  let stored: TrmConfig;
  try {
    stored = JSON.parse(text) as TrmConfig;
    validateConfig(stored);
  } catch (cause) {
    throw new CheckpointError(source, `metadata '${CONFIG_METADATA_KEY}' is not a valid model config: ${(cause as Error).message}`);
  }
  if (requested) {
    const mismatched = SHAPE_FIELDS.filter((field) => requested[field] !== stored[field]);
    if (mismatched.length > 0) {
      const details = mismatched.map((field) => `${field} ${stored[field]} in the file, ${requested[field]} requested`).join('; ');
      throw new CheckpointError(source, `its config does not match the requested one: ${details}`);
    }
  }
  return stored;
}

function stripPrefixes(source: string, tensors: Map<string, SafetensorsTensor>): Map<string, SafetensorsTensor> {
  const stripped = new Map<string, SafetensorsTensor>();
  for (const [name, tensor] of tensors) {
    const prefix = REFERENCE_PREFIXES.find((candidate) => name.startsWith(candidate));
    const bare = prefix ? name.slice(prefix.length) : name;
    if (stripped.has(bare)) throw new CheckpointError(source, `tensor '${bare}' appears twice (with and without a prefix)`);
    stripped.set(bare, tensor);
  }
  return stripped;
}

function collectParameters(source: string, config: TrmConfig, tensors: Map<string, SafetensorsTensor>): TrmParameters {
  const layout = denseLayout(config);
  const params: TrmParameters = {
    dense: new Float32Array(layout.length),
    puzzleEmb: new Float32Array(config.numPuzzleIds * config.hidden),
    hInit: new Float32Array(config.hidden),
    lInit: new Float32Array(config.hidden),
  };
  const buffers = new Map([[PUZZLE_EMBEDDING, params.puzzleEmb], [H_INIT, params.hInit], [L_INIT, params.lInit]]);

  const expected = tensorSpecs(config);
  const unknown = [...tensors.keys()].filter((name) => !expected.some((spec) => spec.name === name));
  if (unknown.length > 0) {
    throw new CheckpointError(source, `unexpected tensors for a ${config.variant} model: ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''}`);
  }

  for (const spec of expected) {
    const tensor = tensors.get(spec.name);
    if (!tensor) throw new CheckpointError(source, `tensor '${spec.name}' is missing (expected shape [${spec.shape.join(', ')}])`);
    if (tensor.shape.length !== spec.shape.length || tensor.shape.some((dim, i) => dim !== spec.shape[i])) {
      throw new CheckpointError(source, `tensor '${spec.name}' has shape [${tensor.shape.join(', ')}], expected [${spec.shape.join(', ')}]`);
    }
    if (!(tensor.data instanceof Float32Array)) {
      throw new CheckpointError(source, `tensor '${spec.name}' has dtype ${tensor.dtype}, expected F32, F16 or BF16`);
    }

    const bad = tensor.data.findIndex((value) => !Number.isFinite(value));
    if (bad >= 0) throw new CheckpointError(source, `tensor '${spec.name}' contains ${tensor.data[bad]} at element ${bad}; a model with NaN or infinite weights cannot be used`);

    const slot = layout.byName.get(spec.name);
    const target = slot ? params.dense.subarray(slot.offset, slot.offset + slot.size) : buffers.get(spec.name);
    target?.set(tensor.data);
  }
  return params;
}
