/**
 * Minimal leveled logger in redis-server's line format (pid:role date level message), to stderr or logfile.
 */
import { appendFileSync } from 'node:fs';
import type { Config } from './config';

const LEVELS = ['debug', 'verbose', 'notice', 'warning', 'nothing'];
const MARK = ['.', '-', '*', '#'];

export class Logger {
  role = 'M';
  constructor(private readonly config: Config) {}

  private write(level: number, msg: string): void {
    const min = LEVELS.indexOf(this.config.str('loglevel'));
    if (level < min) return;
    const d = new Date();
    const ts = `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 23)}`;
    const line = `${process.pid}:${this.role} ${ts} ${MARK[level]} ${msg}\n`;
    const file = this.config.str('logfile');
    if (file) {
      try {
        appendFileSync(file, line);
        return;
      } catch {
        /* fall through to stderr */
      }
    }
    process.stderr.write(line);
  }

  debug(msg: string): void {
    this.write(0, msg);
  }
  verbose(msg: string): void {
    this.write(1, msg);
  }
  notice(msg: string): void {
    this.write(2, msg);
  }
  warning(msg: string): void {
    this.write(3, msg);
  }
}
