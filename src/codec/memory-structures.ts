/**
 * StructuresHosts (records.ts) over a shared list kept in this process's
 * memory, with the contract of the table's (client/structures.ts):
 * compare-and-set of the whole list, and a version that moves on every
 * change (as the key's segment version does) for mayHaveChanged(). For the
 * codec's unit tests and the codec bench: the codecs of two host() views
 * of one MemoryStructures behave like two processes over one table.
 */
import type { StructuresHost } from './records';

export class MemoryStructures {
  stored: Uint8Array | null = null;
  version = 0;
  loads = 0;
  saves = 0;
  /** Called at the start of the next save(), before its compare: a test's chance to change the list first (a race). */
  beforeSave: (() => void) | null = null;

  /** Replace or drop the list (another process's save, or a clear()). */
  set(list: Uint8Array | null): void {
    this.stored = list === null ? null : Uint8Array.prototype.slice.call(list);
    this.version++;
  }

  /** A host for one codec (one "process"). */
  host(): StructuresHost {
    let seen = -1;
    return {
      load: () => {
        this.loads++;
        seen = this.version;
        return this.stored === null ? null : Uint8Array.prototype.slice.call(this.stored);
      },
      save: (expected, next) => {
        this.saves++;
        const race = this.beforeSave;
        this.beforeSave = null;
        race?.();
        seen = -1;
        const same = expected === null ? this.stored === null : this.stored !== null && Buffer.compare(expected, this.stored) === 0;
        if (same) this.set(next);
        return same;
      },
      mayHaveChanged: () => seen !== this.version,
    };
  }
}
