/** Command handlers: lists family (specs in common/src/commands/specs/lists.ts). */
import type { HandlerMap } from './registry';

export const handlers: HandlerMap = {
};
