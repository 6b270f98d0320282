import type { OpHandler } from './common.js';

export const attentionOps: Record<string, OpHandler> = {};
