/** Command handlers: server family (specs in common/src/commands/specs/server.ts). */
import type { HandlerMap } from './registry';

export const handlers: HandlerMap = {
};
