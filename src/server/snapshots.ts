/**
 * The server's snapshots (store/snapshot.ts writes and reads the file):
 * when they are written (at a clean stop, on request, every interval), one
 * at a time; what each says in the log and in the data file's words
 * (D_SNAPSHOTS counts finished ones, D_SNAPSHOT_RESULT says how the last
 * went: `./server --snapshot-now` waits on them); and loading one into a
 * fresh table at start.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Status } from '../layout/board';
import { D_SNAPSHOT_RESULT, D_SNAPSHOTS, SnapshotResult } from '../layout/data-meta';
import { isValueTag, KEY_KIND_BYTES } from '../layout/keys-values';
import { readSnapshot, SnapshotStats, writeSnapshot } from '../store/snapshot';
import type { Table } from '../store/table';
import { monoNowMs } from '../store/clock';
import type { Guard } from './guard';
import { ServerError, SnapshotError } from '../errors';

export class Snapshots {
  private running: Promise<SnapshotStats | null> | null = null;
  /** Snapshots finished (D_SNAPSHOTS), counted on from the adopted file's word, read once at start. */
  private count: number;
  private timer: NodeJS.Timeout | null = null;
  private readonly meta: DataView;

  constructor(
    private readonly table: Table,
    /** The snapshot file, or null when the server has none (--snapshot). */
    readonly file: string | null,
    private readonly guard: Guard,
    private readonly log: (line: string) => void,
  ) {
    this.meta = new DataView(table.segs.header.meta);
    this.count = this.meta.getUint32(D_SNAPSHOTS, true);
  }

  /** Write one every `seconds` (0: never by the clock). */
  every(seconds: number): void {
    if (!seconds) return;
    this.timer = setInterval(() => void this.write(), seconds * 1000);
    this.timer.unref();
  }

  /**
   * Write the snapshot now (one at a time: a second call while one runs
   * gets the running one), and say so in one line; null when the server has
   * no snapshot file. Service goes on meanwhile (store/snapshot.ts). The
   * data file's D_SNAPSHOTS counts it once finished (`--snapshot-now`).
   */
  write(): Promise<SnapshotStats | null> {
    if (this.running) return this.running;
    const file = this.file;
    if (file === null) {
      this.log('no snapshot written: this server has no --snapshot file');
      this.finished(SnapshotResult.NoFile);
      return Promise.resolve(null);
    }
    this.running = writeSnapshot(this.table.segs, file).then(
      (st) => {
        this.log(`snapshot of ${st.records} key(s) written to ${file} in ${st.ms} ms (${st.bytes} bytes)`);
        this.finished(SnapshotResult.Written);
        return st;
      },
      (e: Error) => {
        this.log(`snapshot to ${file} failed: ${e.message.split('\n')[0]}`);
        this.finished(SnapshotResult.Failed);
        return null;
      },
    );
    void this.running.finally(() => (this.running = null));
    return this.running;
  }

  /** At a clean stop, the workers gone: no more by the clock, and one last snapshot (the whole table at one instant) when there is a file. */
  async last(): Promise<void> {
    this.stopTimer();
    if (this.file === null) return;
    if (this.running) await this.running;
    await this.write();
  }

  stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private finished(result: SnapshotResult): void {
    // From the server's own count: the shared word is anyone's to write.
    this.count = (this.count + 1) >>> 0;
    this.meta.setUint32(D_SNAPSHOT_RESULT, result, true);
    this.meta.setUint32(D_SNAPSHOTS, this.count, true);
    this.guard.keep();
  }
}

/** A snapshot path must be a regular file or not exist yet, in a directory that does. */
export function refuseSnapshotPath(file: string): void {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file, { throwIfNoEntry: false });
    if (st === undefined && !fs.statSync(path.dirname(file)).isDirectory()) throw new Error('ENOTDIR');
  } catch (e) {
    throw new ServerError(`--snapshot ${file}: its directory is not usable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (st !== undefined && !st.isFile()) throw new ServerError(`--snapshot ${file} is not a regular file`);
}

/**
 * Fill a fresh table from a snapshot (store/snapshot.ts), before any worker
 * serves: deadlines from the wall clock to this boot's monotonic one,
 * expired records skipped. A snapshot that does not check out is one line,
 * and the table stays empty. Returns the keys loaded, or null.
 */
export function loadSnapshot(table: Table, file: string, log: (line: string) => void): number | null {
  const start = Date.now();
  let loaded = 0;
  try {
    const shift = monoNowMs() - Date.now();
    const r = readSnapshot(file, (rec) => {
      const expires = rec.expiresWall === 0 ? 0 : rec.expiresWall + shift;
      if (expires !== 0 && expires <= monoNowMs()) return;
      // Limits may differ from the writer's: what this table cannot read back is left out.
      if (rec.key.length > table.maxKeyBytes + KEY_KIND_BYTES || rec.value.length > table.maxValueBytes || !isValueTag(rec.tag)) return;
      if (table.set(rec.key, 0, rec.key.length, rec.value, 0, rec.value.length, rec.tag, expires) === Status.Ok) loaded++;
    });
    log(`loaded ${loaded} of ${r.records} key(s) from the snapshot ${file} in ${Date.now() - start} ms`);
    return loaded;
  } catch (e) {
    if (!(e instanceof SnapshotError)) throw e;
    // Kept aside, not overwritten by the next snapshot: it may be all there is.
    const aside = `${file}.corrupt`;
    let kept = '';
    try {
      fs.renameSync(file, aside);
      kept = ` (moved to ${aside})`;
    } catch {
      /* not a file we can move (a directory, a device): it stays where it is */
    }
    log(`not loading the snapshot: ${e.message}: starting empty${kept}`);
    return null;
  }
}
