/**
 * The default codec of structured values (`encoding: 'msgpack'`,
 * ValueTag.Tagged): msgpackr records with structured clone, against record
 * structures shared by every process of the machine through the table, as
 * lmdb-js shares them through its database.
 *
 * WHY. A record structure is an object shape (its keys, in order). msgpackr
 * writes an object of a known shape as a 1-2 byte id followed by its values
 * only, and decodes it with a function generated for the shape (no key is
 * decoded, no hidden-class transition is taken): a ~200 B object decodes in
 * ~1/3 of the time of plain msgpack and ~1/8 of v8's (bench/studies/CODECS.md).
 * Structured clone keeps object identity (cycles, shared references), Map,
 * Set, Date, bigint, typed arrays, RegExp and Error.
 *
 * VALUE FORMAT: byte 0 = FORMAT_RECORDS; bytes 1-4 = the epoch (u32 LE) of
 * the structure list the value was written against (0: no list existed, so
 * the value uses no shared structure); then msgpackr's bytes.
 *
 * THE SHARED LIST lives under one key of the table (the host, e.g.
 * client/structures.ts, stores and loads it): epoch (u32 LE), then the JSON
 * of the shapes (string[][]). Shape i has id 0x40 + i for the whole life of
 * its epoch: the list only grows.
 *  - Adding a shape: a compare-and-set of the whole list, expecting the exact
 *    bytes this process loaded last. Two processes adding a shape at once:
 *    one CAS fails; its codec loads the list as it now is and encodes the
 *    value again, so its shape gets the next id (or finds the other's). No
 *    shape is lost, no id ever names two shapes.
 *  - A list created where there was none gets a fresh random epoch. Ids of
 *    an older list (a dropped key: see the table's guarantees in the host)
 *    are never reused under the new epoch, and a value carries its epoch: a
 *    value whose list is gone fails to decode (CodecError), it is never read
 *    with another list's shapes.
 *  - Decoding: a value of another epoch makes the codec load the list; an
 *    id it does not know makes msgpackr call getStructures(), which loads
 *    it. An epoch or id still unknown after loading is a CodecError (msgpackr
 *    alone would return an unknown one-byte id as a number).
 *  - Encoding: before each encode the host says whether the list may have
 *    changed since it was loaded (the key's segment version: one load);
 *    if its bytes changed, the codec takes the stored list first, so a
 *    process stops writing ids of a list that was dropped.
 *
 * DIRECT WRITES (encodeInto): msgpackr encodes into any buffer given with
 * useBuffer() that has 2 KiB of room, e.g. a window's staging block; its
 * module-wide target is pointed back at a tiny private buffer afterwards
 * (RELEASE), so no later pack, ours or another module's sharing msgpackr,
 * writes into shared memory or over bytes it handed out before.
 */
import { randomInt } from 'node:crypto';
import { Packr, RESERVE_START_SPACE } from 'msgpackr';
import { CodecError, ServerGoneError, TableCorruptError, TableFullError } from '../errors';
import { findCulprit, refusedKind, sizeAtLeast, unsupported } from './check';

/** Byte 0 of a ValueTag.Tagged value: msgpackr records against the shared list. */
export const FORMAT_RECORDS = 1;
/** Format byte and epoch. */
export const TAGGED_HEADER_BYTES = 5;
/** A staging block msgpackr can encode into in place (it wants 2 KiB + 10 of room). */
export const DIRECT_MIN_BYTES = 0x800 + 16;
/** Longest lead (key material) encodeInto reserves in front of the value (msgpackr reserves at most 255 bytes). */
export const DIRECT_MAX_LEAD = 255 - TAGGED_HEADER_BYTES;

/** Shapes in the shared list at most (msgpackr allows 8160; each costs its JSON in the list). */
const MAX_SHARED = 1024;
/** Shapes with more keys are not shared (dictionaries used as objects would fill the list). */
const MAX_SHARED_KEYS = 64;
/** Bytes of the stored list at most (and at most the server's value limit). */
const MAX_LIST_BYTES = 256 * 1024;
/** Declined saves in one encode before giving up (each means another process added a shape). */
const MAX_DECLINES = 64;

/**
 * Where the shared list lives. The bytes given and returned are the
 * caller's own (never a view of shared memory).
 */
export interface StructuresHost {
  /** The stored list, or null when there is none. */
  load(): Uint8Array | null;
  /** Store `next` if the list still is `expected` (null: absent); false when it is not. */
  save(expected: Uint8Array | null, next: Uint8Array): boolean;
  /** False only when the stored list certainly did not change since the last load() or save(). */
  mayHaveChanged(): boolean;
}

type Shape = string[] & { isShared?: boolean; highByte?: number };
type Shapes = Shape[] & { sharedLength?: number; uninitialized?: boolean };
/** msgpackr internals used here (not in its .d.ts): its structures and their merge, as lmdb-js uses them. */
interface PackrInternals {
  structures: Shapes;
  _mergeStructures(loaded: Shapes, existing?: Shapes): Shapes;
}

/** Codecs of this module inside a pack (re-entrant calls are possible from getters and toJSON). */
let codecsPacking = 0;

/** A tiny private buffer: msgpackr's next pack after one of ours allocates a fresh target instead of writing here. */
const RELEASE = Buffer.alloc(16);

export class RecordCodec {
  private readonly packr: Packr;
  /** The list this process encodes against: its stored bytes (null: none) and epoch (0: none). */
  private list: Uint8Array | null = null;
  private epoch = 0;
  private decoding = false;
  private packing = false;
  private declines = 0;
  private readonly maxListBytes: number;
  /** Value and options of one unpack (reused: msgpackr reads start/end from it). */
  private readonly span = { start: TAGGED_HEADER_BYTES, end: 0 };
  /** Saves of the list refused because another process changed it first (each made msgpackr encode again). */
  declinedSaves = 0;
  /** Set by encodeInto when the value did not fit: the value's bytes (header included), the caller's own. */
  spilled: Uint8Array | null = null;

  constructor(
    private readonly host: StructuresHost,
    private readonly maxValueBytes: number,
  ) {
    // A save sends the list held and the new one in one request: both within the value limit.
    this.maxListBytes = Math.min(MAX_LIST_BYTES, Math.floor(maxValueBytes / 2));
    this.packr = new Packr({
      structuredClone: true,
      moreTypes: true,
      useBigIntExtension: true,
      copyBuffers: true,
      maxSharedStructures: MAX_SHARED,
      // Called for every object msgpackr writes as a record (plain objects,
      // class instances, anything without an extension): a record always,
      // after refusing what would otherwise become an empty object.
      useRecords: (o: object) => {
        if (o.constructor === Object) return true;
        const refused = refusedKind(o);
        if (refused) throw unsupported('msgpack', refused, '$');
        return true;
      },
      writeFunction: () => {
        throw new TypeError('function');
      },
      shouldShareStructure: (keys: string[]) => this.shareable(keys),
      getStructures: () => this.getStructures(),
      saveStructures: (structures: {}[]) => this.saveStructures(structures as Shapes),
    });
  }

  /** The epoch of the list this codec holds (0: none). */
  get structuresEpoch(): number {
    return this.epoch;
  }

  /**
   * Encode `value` into bytes of its own (format header included). Throws
   * TypeError for what it cannot carry, RangeError past the value limit,
   * CodecError for other failures, and the host's errors (adding a shape is
   * a write to the table).
   */
  encode(value: unknown): Uint8Array {
    this.before(value);
    let out: Uint8Array;
    try {
      out = this.pack(value, RESERVE_START_SPACE | TAGGED_HEADER_BYTES);
    } catch (err) {
      return this.failed(value, err);
    } finally {
      this.after();
    }
    this.header(out, 0);
    return out;
  }

  /**
   * Encode `value` into `view` after `lead` bytes (<= DIRECT_MAX_LEAD) that
   * the caller has filled (key material): [lead][header][msgpack]. Returns
   * the value's length (header included) when it is in place; -1 when it
   * did not fit in `view`, its bytes then in `spilled`. `view` must have
   * DIRECT_MIN_BYTES of room for msgpackr to write into it at all.
   */
  encodeInto(value: unknown, view: Buffer, lead: number): number {
    this.spilled = null;
    if (codecsPacking > 0) {
      // Called from inside another codec's pack (a getter writing to a
      // second client): msgpackr's target is that pack's; do not move it.
      const own = this.encode(value);
      if (lead + own.length > view.length) {
        this.spilled = own;
        return -1;
      }
      view.set(own, lead);
      return own.length;
    }
    this.before(value);
    let out: Uint8Array;
    try {
      this.packr.useBuffer(view);
      out = this.pack(value, RESERVE_START_SPACE | (lead + TAGGED_HEADER_BYTES));
    } catch (err) {
      return this.failed(value, err);
    } finally {
      this.packr.useBuffer(RELEASE);
      this.after();
    }
    const len = out.length - lead;
    if (out.buffer !== view.buffer || out.byteOffset !== view.byteOffset) {
      // Encoded elsewhere: msgpackr outgrew the view (a private buffer), or
      // encoded again after a declined save (further into the view).
      if (out.length > view.length) {
        const own = Buffer.allocUnsafe(len);
        own.set(out.subarray(lead));
        this.header(own, 0);
        this.spilled = own;
        return -1;
      }
      view.set(out.subarray(lead + TAGGED_HEADER_BYTES), lead + TAGGED_HEADER_BYTES);
    }
    this.header(view, lead);
    return len;
  }

  /**
   * Decode a value of this format: `bytes[0, len)`. The result never
   * aliases `bytes` (strings, typed arrays and buffers are copies).
   */
  decode(bytes: Uint8Array, len: number): unknown {
    if (len < TAGGED_HEADER_BYTES || bytes[0] !== FORMAT_RECORDS)
      throw new CodecError('msgpack', `cannot decode ${len} bytes: not a tagged value (format ${len > 0 ? bytes[0] : 'none'})`);
    const epoch = (bytes[1] | (bytes[2] << 8) | (bytes[3] << 16) | (bytes[4] << 24)) >>> 0;
    if (epoch !== 0 && epoch !== this.epoch && !this.packing) this.refresh();
    if (epoch !== 0 && epoch !== this.epoch) throw gone();
    this.span.end = len;
    this.decoding = true;
    try {
      return this.packr.unpack(bytes, this.span);
    } catch (err) {
      if (err instanceof CodecError || isHostError(err)) throw err;
      const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
      throw new CodecError('msgpack', `cannot decode ${len} bytes: ${why}`, { cause: err });
    } finally {
      this.decoding = false;
    }
  }

  // ---- internals ----------------------------------------------------------------

  /** Checks before encoding: the size bound, and a list that may have changed. */
  private before(value: unknown): void {
    if (this.packing) throw new CodecError('msgpack', 'cannot encode a value while encoding another (a getter or toJSON that writes to the store?)');
    const atLeast = sizeAtLeast(value, this.maxValueBytes);
    if (atLeast > this.maxValueBytes) throw new RangeError(`value of at least ${atLeast} bytes is over the server's limit of ${this.maxValueBytes} bytes`);
    if (this.host.mayHaveChanged()) this.refresh();
    this.declines = 0;
    this.packing = true;
    codecsPacking++;
  }

  private after(): void {
    this.packing = false;
    codecsPacking--;
  }

  private pack(value: unknown, options: number): Uint8Array {
    return this.packr.pack(value, options);
  }

  private header(out: Uint8Array, at: number): void {
    out[at] = FORMAT_RECORDS;
    const e = this.epoch;
    out[at + 1] = e & 0xff;
    out[at + 2] = (e >>> 8) & 0xff;
    out[at + 3] = (e >>> 16) & 0xff;
    out[at + 4] = e >>> 24;
  }

  /** Turn an encoding failure into the error the caller sees; never returns. */
  private failed(value: unknown, err: unknown): never {
    if (isHostError(err) || err instanceof CodecError) throw err;
    const found = findCulprit(value);
    if (found) throw unsupported('msgpack', found.what, found.path);
    if (err instanceof RangeError && /call stack/.test(err.message))
      throw new CodecError('msgpack', 'cannot encode: the value nests too deeply', { cause: err });
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new CodecError('msgpack', `cannot encode: ${why}`, { cause: err });
  }

  /** Take the stored list if its bytes differ from the one held. */
  private refresh(): void {
    const stored = this.host.load();
    if (!sameBytes(stored, this.list)) this.adopt(stored);
  }

  /** Hold `stored` (null: none) as the list, replacing msgpackr's structures (no merge with the old ones). */
  private adopt(stored: Uint8Array | null): Shapes {
    const shapes = parseList(stored);
    this.list = stored;
    this.epoch = stored === null ? 0 : readEpoch(stored);
    return (this.packr as unknown as PackrInternals)._mergeStructures(shapes);
  }

  /**
   * msgpackr's getStructures(): while decoding, it asks only for an id it
   * does not know; while encoding, when its structures are uninitialized
   * (first use, or after a save that threw).
   */
  private getStructures(): Shapes {
    if (this.decoding && this.packing) throw new CodecError('msgpack', 'cannot load record structures while encoding (a getter or toJSON that reads the store?)');
    const stored = this.host.load();
    if (this.decoding) {
      const known = (this.packr as unknown as PackrInternals).structures.sharedLength ?? 0;
      const shapes = parseList(stored);
      const epoch = stored === null ? 0 : readEpoch(stored);
      // Same epoch: the stored list extends ours (ids are never reassigned),
      // so msgpackr's merge keeps ours and adds the rest.
      if (epoch === this.epoch && shapes.length > known) {
        this.list = stored;
        return shapes;
      }
      throw epoch === this.epoch ? new CodecError('msgpack', 'the value uses a record structure id that the shared list does not define') : gone();
    }
    this.list = stored;
    this.epoch = stored === null ? 0 : readEpoch(stored);
    return parseList(stored);
  }

  /** msgpackr's saveStructures(): the new list, by compare-and-set against the one held. */
  private saveStructures(structures: Shapes): boolean {
    const n = structures.sharedLength ?? 0;
    const epoch = this.epoch !== 0 ? this.epoch : newEpoch();
    const next = encodeList(epoch, structures.slice(0, n));
    if (this.host.save(this.list, next)) {
      this.list = next;
      this.epoch = epoch;
      return true;
    }
    this.declinedSaves++;
    if (++this.declines > MAX_DECLINES) throw new CodecError('msgpack', `could not add a record structure: the shared list changed ${MAX_DECLINES} times in a row`);
    // Another process changed the list first. msgpackr marks its structures
    // uninitialized and encodes the value again: it calls getStructures(),
    // which takes the list as it is now (replacing, not merging), so the
    // new shape gets the next free id, or the id another process gave it.
    return false;
  }

  /** Whether a new shape goes into the shared list (else msgpackr defines it inside the value). */
  private shareable(keys: string[]): boolean {
    if (keys.length > MAX_SHARED_KEYS) return false;
    const held = this.list === null ? 4 : this.list.length;
    return held + JSON.stringify(keys).length + 1 <= this.maxListBytes;
  }
}

/** Errors of the host (writing the list is a write to the table): passed on as they are. */
function isHostError(err: unknown): boolean {
  return err instanceof ServerGoneError || err instanceof TableFullError || err instanceof TableCorruptError;
}

function gone(): CodecError {
  return new CodecError('msgpack', "the value was written against shared record structures that the table no longer holds (the structures key was dropped)");
}

function newEpoch(): number {
  return randomInt(1, 2 ** 32 - 1);
}

function readEpoch(list: Uint8Array): number {
  return (list[0] | (list[1] << 8) | (list[2] << 16) | (list[3] << 24)) >>> 0;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The stored list's shapes (a fresh array msgpackr may annotate). */
function parseList(stored: Uint8Array | null): Shapes {
  if (stored === null) return [];
  let shapes: unknown;
  try {
    if (stored.length < 6 || readEpoch(stored) === 0) throw new Error('no epoch');
    shapes = JSON.parse(utf8.decode(stored.subarray(4)));
  } catch (e) {
    throw new CodecError('msgpack', `the shared structures key holds ${stored.length} bytes that are not a structure list (${(e as Error).message})`);
  }
  if (!Array.isArray(shapes) || !shapes.every((s) => Array.isArray(s) && s.every((k) => typeof k === 'string')))
    throw new CodecError('msgpack', 'the shared structures key holds JSON that is not a structure list');
  return shapes as Shapes;
}

function encodeList(epoch: number, shapes: Shape[]): Uint8Array {
  const json = Buffer.from(JSON.stringify(shapes.map((s) => [...s])), 'utf8');
  const out = Buffer.allocUnsafe(4 + json.length);
  out.writeUInt32LE(epoch, 0);
  json.copy(out, 4);
  return out;
}

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
