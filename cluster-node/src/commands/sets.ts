/** Command handlers: sets family (specs in common/src/commands/specs/sets.ts). */
import type { HandlerMap } from './registry';

export const handlers: HandlerMap = {
};
