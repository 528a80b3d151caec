/**
 * Client stats lines: counters only clients know (direct-read hits and
 * misses, fetch's loads and stale values served), summed over processes
 * by the server's metrics endpoint and ./stat. Layout:
 * layout/client-stats-area.ts.
 *
 * PROTOCOL
 *   claim (a client): find a line whose owner word is 0 and CAS it to the
 *     client's pid. The line's counters are zero (the region starts zeroed;
 *     a fold zeroes a line before freeing it). The owner then adds to its
 *     counters with plain stores: one writer per line, no atomics on the
 *     hot path (an aligned f64 store is one instruction, never torn).
 *   release (the client, at close): store CS_RELEASED in its state word and
 *     never write the line again.
 *   fold (the server's main thread, once per tick): a line that is
 *     released, or whose owner process is dead, is folded: inside the
 *     seqlock (odd, then even) its counters are added to the retired ones
 *     and zeroed, then its state and owner are cleared (owner last, with a
 *     seq-cst store: a claimer that sees 0 sees a zeroed line).
 *   sum (anyone): retired + every owned line, retried while the seqlock is
 *     odd or moved. Between two sums only increments happen outside folds,
 *     and a fold moves counts from a line to the retired sum atomically for
 *     readers, so the sums never decrease (Prometheus counters must not).
 *
 * A client that finds every line taken counts privately (stats() still
 * has its own hits and misses) and publishes nothing.
 */
import { processAlive } from '../sync/lock';
import {
  CLIENT_STAT_COUNT,
  CLIENT_STATS_LINE_BYTES,
  CLIENT_STATS_LINES,
  CS_COUNTERS,
  CS_IN_USE,
  CS_LINES,
  CS_OWNER,
  CS_RELEASED,
  CS_RETIRED,
  CS_SEQ,
  CS_STATE,
} from '../layout/client-stats-area';

export class ClientStats {
  private readonly i32: Int32Array;
  private readonly base: number;

  constructor(
    private readonly sab: SharedArrayBuffer,
    offset: number,
  ) {
    this.i32 = new Int32Array(sab);
    this.base = offset;
  }

  private lineAt(i: number): number {
    return this.base + CS_LINES + i * CLIENT_STATS_LINE_BYTES;
  }

  /**
   * Claim a free line for process `pid`: its counters as a Float64Array
   * (written by the caller only) and the line's number, or a private array
   * and -1 when every line is taken.
   */
  claim(pid: number): { counters: Float64Array; line: number } {
    for (let i = 0; i < CLIENT_STATS_LINES; i++) {
      const at = this.lineAt(i);
      if (Atomics.load(this.i32, (at + CS_OWNER) >> 2) !== 0) continue;
      if (Atomics.compareExchange(this.i32, (at + CS_OWNER) >> 2, 0, pid) !== 0) continue;
      Atomics.store(this.i32, (at + CS_STATE) >> 2, CS_IN_USE);
      return { counters: new Float64Array(this.sab, at + CS_COUNTERS, CLIENT_STAT_COUNT), line: i };
    }
    return { counters: new Float64Array(CLIENT_STAT_COUNT), line: -1 };
  }

  /** The owner is done with `line`: the server folds it on its next tick. */
  release(line: number): void {
    if (line >= 0) Atomics.store(this.i32, (this.lineAt(line) + CS_STATE) >> 2, CS_RELEASED);
  }

  /**
   * Fold released lines, and (when `checkAlive`) lines of dead owners,
   * into the retired counters. Server main thread only. Returns how many.
   */
  fold(checkAlive: boolean): number {
    const f64 = new Float64Array(this.sab, this.base + CS_RETIRED, CLIENT_STAT_COUNT);
    let folded = 0;
    for (let i = 0; i < CLIENT_STATS_LINES; i++) {
      const at = this.lineAt(i);
      const owner = Atomics.load(this.i32, (at + CS_OWNER) >> 2);
      if (owner === 0) continue;
      const released = Atomics.load(this.i32, (at + CS_STATE) >> 2) === CS_RELEASED;
      if (!released && !(checkAlive && (owner < 0 || !processAlive(owner)))) continue;
      const line = new Float64Array(this.sab, at + CS_COUNTERS, CLIENT_STAT_COUNT);
      const seq = (this.base + CS_SEQ) >> 2;
      Atomics.add(this.i32, seq, 1);
      for (let c = 0; c < CLIENT_STAT_COUNT; c++) {
        f64[c] += line[c];
        line[c] = 0;
      }
      Atomics.add(this.i32, seq, 1);
      Atomics.store(this.i32, (at + CS_STATE) >> 2, CS_IN_USE);
      Atomics.store(this.i32, (at + CS_OWNER) >> 2, 0);
      folded++;
    }
    return folded;
  }

  /** Every process's counters summed (retired + owned lines), and the lines in use. */
  sum(): { counters: number[]; lines: number } {
    const seq = (this.base + CS_SEQ) >> 2;
    for (;;) {
      const s1 = Atomics.load(this.i32, seq);
      if (s1 & 1) continue;
      const out = Array.from(new Float64Array(this.sab, this.base + CS_RETIRED, CLIENT_STAT_COUNT));
      let lines = 0;
      for (let i = 0; i < CLIENT_STATS_LINES; i++) {
        const at = this.lineAt(i);
        if (Atomics.load(this.i32, (at + CS_OWNER) >> 2) === 0) continue;
        lines++;
        const line = new Float64Array(this.sab, at + CS_COUNTERS, CLIENT_STAT_COUNT);
        for (let c = 0; c < CLIENT_STAT_COUNT; c++) out[c] += line[c];
      }
      if (Atomics.load(this.i32, seq) === s1) return { counters: out, lines };
    }
  }
}
