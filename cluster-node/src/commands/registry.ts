/**
 * Handlers: the executable half of the command table, keyed by spec name ("get", "client|list").
 * Handlers write replies into `c.w` and report expected failures by throwing {@link ReplyError}
 * (a plain object: no stack capture) before writing anything, or by writing `c.w.error(...)`.
 */
import type { Client } from '../server/client';

export type Handler = (c: Client, argv: string[]) => void;

export class ReplyError {
  constructor(readonly message: string) {}
}

export type HandlerMap = { [name: string]: Handler | undefined };
