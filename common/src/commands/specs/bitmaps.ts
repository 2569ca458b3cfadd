/** Command specs: bitmaps family. */
import type { CommandSpec } from '../types';
import { cmd, k, knum, kword, sub } from '../define';

void k; void knum; void kword; void sub;

export const specs: CommandSpec[] = [
];
