/**
 * What the server's main thread and its worker threads (worker.ts) pass
 * each other. Its own module: importing worker.ts starts a worker loop.
 */
import type { Region } from '../layout/region';
import type { WaitPolicy } from '../sync/waiter';
import type { TableTransfer } from '../store/table-format';

export interface ServerWorkerData {
  region: ReturnType<Region['transferable']>;
  /** The table: its mapped pieces, hint maps and the server's private state. */
  table: TableTransfer;
  /** One lock for the whole table (--coarse). */
  coarse: boolean;
  /** Staging: the windows' records (private), the arena (the exchange file) and its allocator's state (private). */
  staging: SharedArrayBuffer;
  arena: SharedArrayBuffer;
  arenaState: SharedArrayBuffer;
  /**
   * The server's private control words (layout/server-private.ts, CONTROL_*): the stop
   * word and the idle workers' spinner role and bench (idle.ts). Not in the
   * region: any same-user process can write that, and a forged STOPPING
   * must not make the workers quit.
   */
  control: SharedArrayBuffer;
  index: number;
  policy: WaitPolicy;
}

/** A worker's message once it is warmed up and serves (warmup.ts); READY waits for every worker's. */
export const WORKER_READY = 'ready';
