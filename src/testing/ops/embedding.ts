import type { OpHandler } from './common.js';

export const embeddingOps: Record<string, OpHandler> = {};
