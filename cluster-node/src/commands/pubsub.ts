/** Command handlers: pubsub family (specs in common/src/commands/specs/pubsub.ts). */
import type { HandlerMap } from './registry';

export const handlers: HandlerMap = {
};
