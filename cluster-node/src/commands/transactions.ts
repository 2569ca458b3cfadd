/** Command handlers: transactions family (specs in common/src/commands/specs/transactions.ts). */
import type { HandlerMap } from './registry';

export const handlers: HandlerMap = {
};
