/** Command handlers: hyperloglog family (specs in common/src/commands/specs/hyperloglog.ts). */
import type { HandlerMap } from './registry';

export const handlers: HandlerMap = {
};
