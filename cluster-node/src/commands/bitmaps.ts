/** Command handlers: bitmaps family (specs in common/src/commands/specs/bitmaps.ts). */
import type { HandlerMap } from './registry';

export const handlers: HandlerMap = {
};
