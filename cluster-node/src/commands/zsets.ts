/** Command handlers: zsets family (specs in common/src/commands/specs/zsets.ts). */
import type { HandlerMap } from './registry';

export const handlers: HandlerMap = {
};
