/**
 * The operations on fetch's lease key L and its placeholder in K (the
 * PROTOCOL and RESTARTS of fetch.ts, which states the invariants): lease
 * bytes unique to each call, reading L's state, taking L or placing a
 * placeholder by CompareSet over what was read (settled by reading the key
 * back when a restart leaves the outcome unknown: only this caller ever
 * writes those bytes), and sending again a CompareSet whose expected bytes
 * a first run consumed.
 */
import { randomBytes } from 'node:crypto';
import { PreparedValue } from '../codec/value';
import { Key, ReservedKey } from '../store/keys';
import { ReadResult } from '../store/table-reader';
import { deadlineIn } from '../store/clock';
import { ValueTag } from '../layout/keys-values';
import type { FetchHost } from './fetch-host';
import { raw } from './fetch-options';
import { FetchError, OutcomeUnknownError } from '../errors';

/**
 * A lease's time to live: how soon another caller takes over from a dead
 * loader. The loader renews it every RENEW_MS (fetch.ts) through its event
 * loop and the server, so the lease lapses under a live loader only when
 * both stall for LEASE_MS - RENEW_MS. At 1 s that happened under a load
 * average of ~20 on 2 cores (a second loader ran); 3 s leaves 2.75 s.
 */
export const LEASE_MS = 3000;
/** Sends of one CompareSet whose outcome stays unknown (each after a server died holding it). */
const RESEND_TRIES = 3;

export class Leases {
  private leaseCount = 0;

  constructor(private readonly host: FetchHost) {}

  /**
   * Put a placeholder anchor in K (our lease bytes, ValueTag.Lease) over
   * its absence or over a dead loader's placeholder: the anchor, or null
   * if K holds something else now.
   */
  async placeholder(key: Key, mine: PreparedValue): Promise<PreparedValue | null> {
    const c = this.host;
    const over = c.peekRaw(key) === ReadResult.Found && c.found.tag === ValueTag.Lease ? raw(ValueTag.Lease, Buffer.from(c.found.bytes!)) : null;
    return (await this.placeUnique(key, over, mine)) ? mine : null;
  }

  /** Drop our lease (only ours). */
  drop(lk: ReservedKey, mine: PreparedValue): Promise<unknown> {
    return this.again((req) => req.compareAndSetPrepared(lk, mine, null, 0)).catch(() => undefined);
  }

  /** Take the lease `lk` with our unique bytes `mine`: whether we hold it. */
  take(lk: ReservedKey, mine: PreparedValue): Promise<boolean> {
    return this.placeUnique(lk, null, mine);
  }

  /**
   * CompareSet(k, over -> mine), `mine` being unique lease bytes: whether k
   * holds them now. When the outcome is unknown (RESTARTS, fetch.ts), k is read
   * back: only this caller ever writes those bytes.
   */
  async placeUnique(k: Key, over: PreparedValue | null, mine: PreparedValue): Promise<boolean> {
    try {
      return (await this.host.request((req) => req.compareAndSetPrepared(k, over, mine, deadlineIn(LEASE_MS)))) as boolean;
    } catch (e) {
      if (!(e instanceof OutcomeUnknownError)) throw e;
      if (this.host.peekRaw(k) !== ReadResult.Found) return false;
      const found = this.host.found;
      return found.tag === ValueTag.Lease && found.bytes !== null && found.bytes.equals(mine.bytes!);
    }
  }

  /** A CompareSet whose expected bytes a first run consumes, sent again while its outcome is unknown (RESTARTS, fetch.ts). */
  async again(build: Parameters<FetchHost['request']>[0]): Promise<unknown> {
    for (let tries = 1; ; tries++) {
      try {
        return await this.host.request(build);
      } catch (e) {
        if (!(e instanceof OutcomeUnknownError) || tries >= RESEND_TRIES) throw e;
      }
    }
  }

  /** The lease key's state: null (free), true (held), or the FetchError of a failed load. */
  state(lk: ReservedKey): null | true | FetchError {
    if (this.host.peekRaw(lk) !== ReadResult.Found) return null;
    const found = this.host.found;
    if (found.tag === ValueTag.Failed) {
      const { name, message } = JSON.parse(found.bytes!.toString('utf8')) as { name: string; message: string };
      return new FetchError(name, message);
    }
    return found.tag === ValueTag.Lease ? true : null;
  }

  /** Lease bytes unique to this call: pid, a per-process counter, random bits. */
  newLease(): PreparedValue {
    const b = Buffer.alloc(16);
    b.writeUInt32LE(process.pid, 0);
    b.writeUInt32LE(++this.leaseCount >>> 0, 4);
    randomBytes(8).copy(b, 8);
    return raw(ValueTag.Lease, b);
  }
}
