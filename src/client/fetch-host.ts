/**
 * What fetch.ts needs from a client, and no more: a contract-only file, so
 * that fetch.ts depends on this interface and not on the Client class (and
 * Client's public surface holds the API, not the reads and requests the
 * lease protocol is built from). client.ts builds the one object that
 * implements it, over the client's internals (client-core.ts, reads.ts).
 */
import type { Key } from '../store/keys';
import type { ReadResult, TableReader } from '../store/table-reader';
import type { ValueCodec } from '../codec/value';
import type { ClientStat } from '../layout/client-stats-area';
import type { Pending, RequestBuilder } from './requests';
import type { Entries } from './entries';
import type { Events } from './events';

/**
 * A judged direct read's answers beyond ReadResult (reads.ts): an envelope
 * judged fresh, stale (allowStale), or invalidated by a token (or stale
 * without allowStale).
 */
export const FOUND_META = 4;
export const FOUND_STALE = 5;
export const INVALID_META = 6;

export interface FetchHost {
  /** The current server's key limit (lease keys are built under it). */
  readonly maxKeyBytes: number;
  /** The client's value codec: decodes what a read found, prepares what a loader returned. */
  readonly codec: ValueCodec;
  /** Envelopes: the last one judged, tokens, wrapping a value with its metadata (entries.ts). */
  readonly envelopes: Entries;
  /** The client's listeners: fetch, stale and refresh events. */
  readonly events: Events;
  /**
   * A judged direct read of `key`, counted as a hit or miss and reported:
   * a ReadResult, FOUND_META, FOUND_STALE or INVALID_META. Found leaves the
   * entry in `found`; an envelope's verdicts leave it in `envelopes.last`.
   */
  direct(key: Key, copyBytes: boolean, allowStale: boolean): number;
  /** A direct read that counts, reports and judges nothing (a lease, a placeholder). */
  peekRaw(key: Key): ReadResult;
  /** The entry the last Found read left (tag, bytes, a decodable value). */
  readonly found: TableReader;
  /** A request through the promise pipeline (rejects, never throws). */
  request(build: (req: RequestBuilder) => Pending): Promise<unknown>;
  /** Count one event of `stat` in this client's counters. */
  count(stat: ClientStat): void;
}
