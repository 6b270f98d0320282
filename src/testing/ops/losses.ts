import type { OpHandler } from './common.js';

export const lossesOps: Record<string, OpHandler> = {};
