/**
 * The server's one-line notes on stderr ("server: ..."), from any of its
 * threads. Written synchronously to file descriptor 2: a worker thread's
 * process.stderr hands each write to the main thread and sends the next one
 * only once its event loop has turned, which a worker serving requests in a
 * loop never lets happen (its second line would wait forever).
 */
import * as fs from 'node:fs';

export function logLine(line: string): void {
  try {
    fs.writeSync(2, `server: ${line}\n`);
  } catch {
    // stderr closed: nobody to tell
  }
}
