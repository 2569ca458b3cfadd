/** Command handlers: keys family (specs in common/src/commands/specs/keys.ts). */
import type { HandlerMap } from './registry';

export const handlers: HandlerMap = {
};
