import type { OpHandler } from './common.js';

export const mlpOps: Record<string, OpHandler> = {};
