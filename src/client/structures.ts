/**
 * The table's shared record structures (codec/records.ts explains the
 * list, its epoch and its protocol): where the list lives and how this
 * process reads and changes it.
 *
 * WHERE. Under STRUCTURES_KEY, a SystemKey (KeyKind.System material: the
 * table never evicts it, expires it or removes it in clear(), and no scan
 * lists it), holding the list as a Uint8Array value with no deadline.
 *
 * WHAT THE TABLE GUARANTEES for that key: (1) it stays until the table is
 * gone (the kind above); (2) compare-and-set on it compares the whole
 * stored bytes (tag too); (3) its segment's seqlock version moves on every
 * change (as any key's); (4) room for a list of up to 256 KiB (records.ts,
 * MAX_LIST_BYTES). A table that is gone (a cold start of the server, the
 * cache dropped) takes the list with it: values written against it went
 * with it, and writers start a new list with a new epoch at their next
 * encode. A value whose epoch or id is unknown is a CodecError, never
 * misread.
 *
 * HOW. load(): a direct read by a TableReader of its own (a load may run
 * inside the decode of another direct read, whose scratch buffer it must
 * not overwrite) on the connection's current session (a new one after a
 * restart: its own seed, its own table), falling back to the server's read
 * when contended.
 * save(): a CompareSet through a window of its own (a save runs inside an
 * encode, possibly one writing straight into the synchronous window's
 * staging block). mayHaveChanged(): one load of the key's segment version,
 * compared with the one the last load saw.
 */
import type { Connection } from './connection';
import type { Session } from './session';
import { SyncWindow } from './sync-window';
import { RequestBuilder } from './requests';
import { KeyEncoder, SystemKey } from '../store/keys';
import { ReadResult, TableReader } from '../store/table-reader';
import { RecordCodec, StructuresHost } from '../codec/records';
import { Encoding } from '../codec/structured';
import { PreparedValue, ValueCodec } from '../codec/value';
import { ValueTag } from '../layout/keys-values';
import { CodecError, TableCorruptError } from '../errors';

/** The key of the shared structure list. */
export const STRUCTURES_KEY = new SystemKey(Buffer.from('shmkv:structures'));

/** Direct-read attempts (each up to 256 seqlock tries) before a host without a window gives up. */
const READ_ROUNDS = 8;

export class TableStructures implements StructuresHost {
  /** The session the reader and the key's encoding below are for. */
  private session: Session | null = null;
  private reader!: TableReader;
  private key!: Buffer;
  private hash = 0;
  private segment = 0;
  /** Segment version when the list was last loaded (-1: unknown). */
  private seen = -1;
  private sync: SyncWindow | null = null;
  private req: RequestBuilder | null = null;

  constructor(private readonly conn: Connection) {}

  /** Read the current session's table (a new server's, after a restart). */
  private bind(): void {
    const s = this.conn.current;
    if (s === this.session) return;
    this.session = s;
    this.reader = s.newReader();
    const enc = new KeyEncoder(this.reader.maxKeyBytes, this.reader.seed);
    enc.encode(STRUCTURES_KEY);
    this.key = Buffer.from(enc.bytes.subarray(0, enc.length));
    this.hash = enc.hash;
    this.segment = this.reader.segmentOf(this.hash);
    this.seen = -1;
  }

  /** Give this host a window for writes (and contended reads); without one it only reads. */
  attach(sync: SyncWindow, req: RequestBuilder): void {
    this.sync = sync;
    this.req = req;
  }

  mayHaveChanged(): boolean {
    this.bind();
    return this.seen < 0 || this.reader.segmentVersion(this.segment) !== this.seen;
  }

  load(): Uint8Array | null {
    this.bind();
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
 * A client's value codec: its encoding, and the table's shared structures,
 * written through window `structuresWindow` of `session` (reserved by the
 * caller, given back by its close(); the window follows the connection to
 * a new server).
 */
export function clientValues(conn: Connection, session: Session, encoding: Encoding, structuresWindow: number): { codec: ValueCodec; window: SyncWindow } {
  const host = new TableStructures(conn);
  const reader = session.reader;
  const codec = new ValueCodec(encoding, new RecordCodec(host, reader.maxValueBytes), reader.maxValueBytes);
  // Its own key encoder: a save runs in the middle of another request's build.
  const window = new SyncWindow(conn, session, structuresWindow, codec);
  host.attach(window, new RequestBuilder(new KeyEncoder(reader.maxKeyBytes, reader.seed), codec, 0));
  return { codec, window };
}

/** A codec that decodes any value of the table but never adds structures (the CLI's replay). */
export function readOnlyValues(conn: Connection): ValueCodec {
  const reader = conn.reader;
  return new ValueCodec('msgpack', new RecordCodec(new TableStructures(conn), reader.maxValueBytes), reader.maxValueBytes);
}
