import type { OpHandler } from './common.js';

export const optimizerOps: Record<string, OpHandler> = {};
