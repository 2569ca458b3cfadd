/** Command handlers: hashes family (specs in common/src/commands/specs/hashes.ts). */
import type { HandlerMap } from './registry';

export const handlers: HandlerMap = {
};
