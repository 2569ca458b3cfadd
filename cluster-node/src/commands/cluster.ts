/** Command handlers: cluster family (specs in common/src/commands/specs/cluster.ts). */
import type { HandlerMap } from './registry';

export const handlers: HandlerMap = {
};
