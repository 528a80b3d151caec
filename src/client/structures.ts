/**
 * The table's shared record structures (codec/records.ts explains the
 * list, its epoch and its protocol): where the list lives and how this
 * process reads and changes it.
 *
 * WHERE. Under STRUCTURES_KEY, a string key no application writes (it
 * starts with U+0000), holding the list as a Uint8Array value with no
 * deadline. keys() and keysWithPrefix() skip it; size and stats().keys
 * count it.
 *
 * WHAT THE TABLE MUST GUARANTEE for that key (until it has a reserved key
 * kind that gives it, 1 holds only as long as nobody clears the table and
 * the budget does not evict the key):
 *   1. never evicted, never expired, never removed by clear() or delete();
 *   2. compare-and-set on it compares the whole stored bytes (tag too);
 *   3. its segment's seqlock version moves on every change (as any key's);
 *   4. room for a list of up to 256 KiB (records.ts, MAX_LIST_BYTES).
 * Meanwhile, a process that encodes or decodes objects reads the list
 * every 64 of them (keepAlive: a read that copies nothing), so eviction's
 * CLOCK finds it visited while objects are in use (test/e2e/values.test.ts:
 * without it, churn by string writes evicted it while objects were being
 * read). If the key is dropped anyway, values written against the dropped
 * list fail to decode with CodecError (their epoch is gone), never misread,
 * and writers start a new list with a new epoch at their next encode.
 *
 * HOW. load(): a direct read by a TableReader of its own (a load may run
 * inside the decode of another direct read, whose scratch buffer it must
 * not overwrite), falling back to the server's read when contended.
 * save(): a CompareSet through a window of its own (a save runs inside an
 * encode, possibly one writing straight into the synchronous window's
 * staging block). mayHaveChanged(): one load of the key's segment version,
 * compared with the one the last load saw.
 */
import type { Connection } from './connection';
import { SyncWindow } from './sync-window';
import { RequestBuilder } from './requests';
import { StagingIO } from './staging-io';
import { KeyEncoder } from '../store/keys';
import { ReadResult, TableReader } from '../store/table-reader';
import { RecordCodec, StructuresHost } from '../codec/records';
import { Encoding } from '../codec/structured';
import { PreparedValue, ValueCodec } from '../codec/value';
import { ValueTag } from '../layout/layout';
import { CodecError, TableCorruptError } from '../errors';

/** The key of the shared structure list. */
export const STRUCTURES_KEY = '\u0000shmkv:structures';

/** Direct-read attempts (each up to 256 seqlock tries) before a host without a window gives up. */
const READ_ROUNDS = 8;

export class TableStructures implements StructuresHost {
  private readonly reader: TableReader;
  private readonly key: Buffer;
  private readonly hash: number;
  private readonly segment: number;
  /** Segment version when the list was last loaded (-1: unknown). */
  private seen = -1;
  private sync: SyncWindow | null = null;
  private req: RequestBuilder | null = null;

  constructor(conn: Connection) {
    this.reader = new TableReader(conn.data);
    const enc = new KeyEncoder(this.reader.maxKeyBytes, this.reader.seed);
    enc.encode(STRUCTURES_KEY);
    this.key = Buffer.from(enc.bytes.subarray(0, enc.length));
    this.hash = enc.hash;
    this.segment = this.reader.segmentOf(this.hash);
  }

  /** Give this host a window for writes (and contended reads); without one it only reads. */
  attach(sync: SyncWindow, req: RequestBuilder): void {
    this.sync = sync;
    this.req = req;
  }

  mayHaveChanged(): boolean {
    return this.seen < 0 || this.reader.segmentVersion(this.segment) !== this.seen;
  }

  load(): Uint8Array | null {
    const reader = this.reader;
    for (let round = 0; ; round++) {
      const before = reader.segmentVersion(this.segment);
      const r = reader.read(this.key, this.key.length, this.hash, true);
      if (r === ReadResult.Found) {
        this.seen = reader.version;
        if (reader.tag !== ValueTag.Uint8Array) throw new CodecError('msgpack', `the shared structures key holds a value of tag ${reader.tag}, not a structure list`);
        return reader.bytes!; // a fresh copy for this tag
      }
      if (r === ReadResult.Absent) {
        // Valid as of `before` when it was even and the read met no writer.
        this.seen = before & 1 ? -1 : before;
        return null;
      }
      if (r === ReadResult.Corrupt) throw new TableCorruptError('a direct read of the shared structures found a stable segment that makes no sense');
      if (this.sync !== null) {
        this.seen = -1;
        const v = this.sync.run(this.req!.read(STRUCTURES_KEY));
        if (v === undefined) return null;
        if (!(v instanceof Uint8Array) || Buffer.isBuffer(v)) throw new CodecError('msgpack', 'the shared structures key holds a value that is not a structure list');
        return v;
      }
      if (round >= READ_ROUNDS) throw new CodecError('msgpack', 'the shared structures could not be read: writers kept their segment busy');
    }
  }

  keepAlive(): void {
    this.reader.read(this.key, this.key.length, this.hash, false); // marks the entry visited; copies nothing
  }

  save(expected: Uint8Array | null, next: Uint8Array): boolean {
    if (this.sync === null) throw new CodecError('msgpack', 'this connection cannot add record structures (read-only)');
    this.seen = -1;
    const p = this.req!.compareAndSetPrepared(STRUCTURES_KEY, expected === null ? null : list(expected), list(next), 0);
    return this.sync.run(p) as boolean;
  }
}

function list(bytes: Uint8Array): PreparedValue {
  return { tag: ValueTag.Uint8Array, maxBytes: bytes.length, num: 0, str: '', bytes };
}

/**
 * A client's value codec and staging I/O: its encoding, and the table's
 * shared structures, written through window `structuresWindow`.
 */
export function clientValues(conn: Connection, encoding: Encoding, structuresWindow: number): { codec: ValueCodec; io: StagingIO } {
  const host = new TableStructures(conn);
  const reader = conn.reader;
  const codec = new ValueCodec(encoding, new RecordCodec(host, reader.maxValueBytes), reader.maxValueBytes);
  const io = new StagingIO(conn, codec);
  // Its own key encoder: a save runs in the middle of another request's build.
  host.attach(new SyncWindow(conn, structuresWindow, io), new RequestBuilder(new KeyEncoder(reader.maxKeyBytes, reader.seed), codec, 0, io));
  return { codec, io };
}

/** A codec that decodes any value of the table but never adds structures (the CLI's replay). */
export function readOnlyValues(conn: Connection): ValueCodec {
  const reader = conn.reader;
  return new ValueCodec('msgpack', new RecordCodec(new TableStructures(conn), reader.maxValueBytes), reader.maxValueBytes);
}
