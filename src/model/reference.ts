// Float64 reference of the whole TRM: forward, backward of the final recursion, losses, one
// training step and evaluation. Plain arrays, batch-first and row-major, one module per layer
// group under reference/; the GPU model is tested against it.
export * from './reference/attention.js';
export * from './reference/block.js';
export * from './reference/context.js';
export * from './reference/layers.js';
export * from './reference/losses.js';
export * from './reference/model.js';
export * from './reference/training.js';
