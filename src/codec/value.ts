/**
 * Values as tagged bytes. Strings, bytes, numbers, booleans and null need
 * no codec: a ValueTag and the raw bytes (UTF-8 written straight into the
 * shared staging block). Anything else goes through the structured codec
 * chosen by the client's `encoding`: records against the table's shared
 * structures (records.ts, the default) or a fixed codec (structured.ts);
 * the tag records which codec wrote it, so any client decodes any value
 * whatever its own encoding option.
 */
import { ValueTag } from '../layout/keys-values';
import { checkWellFormed, describe } from '../store/keys';
import { decodeStructured, Encoding, encodeStructured, FixedCodec } from './structured';
import { DIRECT_MAX_LEAD, DIRECT_MIN_BYTES, RecordCodec } from './records';

const MAX_U32 = 4294967295;

const FIXED: Partial<Record<ValueTag, FixedCodec>> = {
  [ValueTag.Msgpack]: 'plain-msgpack',
  [ValueTag.V8]: 'v8',
  [ValueTag.Json]: 'json',
};

/**
 * Staging room a deferred value asks for: enough for msgpackr to encode in
 * place (records.ts, DIRECT_MIN_BYTES) and for most values to fit. The
 * synchronous window grows to it once, at its first structured write.
 */
export const DEFERRED_STAGING_BYTES = 4096;

/**
 * A value checked and ready to be written: its tag, its byte length
 * (strings: an upper bound until written), and what to write.
 */
export interface PreparedValue {
  tag: ValueTag;
  /** Bytes the value needs at most (a deferred value: the room it asks for). */
  maxBytes: number;
  num: number;
  str: string;
  bytes: Uint8Array | null;
  /**
   * A structured value not encoded yet (undefined: none): it is encoded
   * straight into the staging block it is written to (writeDeferred), which
   * only the synchronous calls do; queued requests hold encoded bytes.
   */
  deferred?: unknown;
}

/** What a reader found: a tag and the value's number, string or bytes (bytes[0, bytesLen)). */
export interface RawValue {
  tag: ValueTag;
  num: number;
  str: string;
  bytes: Buffer | null;
  bytesLen: number;
}

/** One client's values: its encoding, the table's shared record structures, the server's value limit. */
export class ValueCodec {
  /** Whether a deferred value's staging room is within the server's request limit. */
  private readonly directOk: boolean;

  constructor(
    readonly encoding: Encoding,
    readonly records: RecordCodec,
    readonly maxValueBytes: number,
  ) {
    this.directOk = encoding === 'msgpack' && maxValueBytes >= DEFERRED_STAGING_BYTES;
  }

  /**
   * Check `value` and work out how to store it. Throws TypeError for
   * undefined, functions, symbols (and what the codec refuses), RangeError
   * for a value over the limit. A structured value is encoded now, into
   * bytes of its own (its tag says which codec); caller-owned bytes are
   * referenced, not copied (ownValue copies them for a queued request).
   */
  prepare(value: unknown, out?: PreparedValue): PreparedValue {
    const p = out ?? { tag: ValueTag.Null, maxBytes: 0, num: 0, str: '', bytes: null };
    if (prepareRaw(value, this.maxValueBytes, p)) return p;
    const encoded = this.encode(value);
    if (encoded.length > this.maxValueBytes) throw tooLarge(encoded.length, this.maxValueBytes, describe(value));
    p.tag = this.encoding === 'msgpack' ? ValueTag.Tagged : this.encoding === 'v8' ? ValueTag.V8 : ValueTag.Json;
    p.bytes = encoded;
    p.maxBytes = encoded.length;
    return p;
  }

  /**
   * prepare(), except that a structured value under the default encoding is
   * only kept (deferred), to be encoded by writeDeferred straight into the
   * staging block: for a request written at once (the synchronous calls).
   */
  prepareDeferred(value: unknown): PreparedValue {
    const p: PreparedValue = { tag: ValueTag.Null, maxBytes: 0, num: 0, str: '', bytes: null };
    if (prepareRaw(value, this.maxValueBytes, p)) return p;
    if (!this.directOk) return this.prepare(value, p);
    p.tag = ValueTag.Tagged;
    p.maxBytes = DEFERRED_STAGING_BYTES;
    p.deferred = value;
    return p;
  }

  /**
   * Encode deferred value `p` into `block` (a whole staging block, holding
   * `lead` bytes of key material first). Returns its length when it is in
   * place; -1 when it did not fit, and `p` then holds its encoded bytes and
   * exact length (no longer deferred: write it as any value).
   */
  writeDeferred(p: PreparedValue, block: Buffer, lead: number): number {
    const value = p.deferred;
    let len: number;
    if (block.length >= DIRECT_MIN_BYTES && lead <= DIRECT_MAX_LEAD) {
      len = this.records.encodeInto(value, block, lead);
      if (len < 0) {
        p.bytes = this.records.spilled;
        len = p.bytes!.length;
      }
    } else {
      p.bytes = this.records.encode(value);
      len = p.bytes.length;
      if (lead + len <= block.length) {
        block.set(p.bytes, lead);
        p.bytes = null;
      }
    }
    if (len > this.maxValueBytes) throw tooLarge(len, this.maxValueBytes, describe(value));
    if (p.bytes === null) return len;
    p.deferred = undefined;
    p.maxBytes = len;
    return -1;
  }

  /** Encode a structured value into bytes of its own with this client's codec. */
  encode(value: unknown): Uint8Array {
    return this.encoding === 'msgpack' ? this.records.encode(value) : encodeStructured(value, this.encoding);
  }

  /** The JavaScript value of a raw value read from the table (any tag: any codec). */
  decode(r: RawValue): unknown {
    switch (r.tag) {
      case ValueTag.U32:
      case ValueTag.F64:
        return r.num;
      case ValueTag.String:
        return r.str;
      case ValueTag.True:
        return true;
      case ValueTag.False:
        return false;
      case ValueTag.Null:
        return null;
      case ValueTag.Buffer:
        return r.bytes!;
      case ValueTag.Uint8Array:
        return new Uint8Array(r.bytes!.buffer, r.bytes!.byteOffset, r.bytesLen);
      case ValueTag.Tagged:
        return this.records.decode(r.bytes!, r.bytesLen);
      case ValueTag.Lease:
      case ValueTag.Failed:
        return undefined; // fetch() bookkeeping, not a value
      case ValueTag.Meta:
        return new Enveloped(r.bytesLen === r.bytes!.length ? r.bytes! : r.bytes!.subarray(0, r.bytesLen));
      default: {
        const codec = FIXED[r.tag];
        if (codec === undefined) throw new TypeError(`unknown value tag ${r.tag}`);
        return decodeStructured(r.bytes!, codec, r.bytesLen);
      }
    }
  }
}

/** A value that needs no codec (a string, a number, a boolean, null, bytes), prepared; TypeError for any other. */
export function preparePlain(value: unknown, maxValueBytes: number): PreparedValue {
  const p: PreparedValue = { tag: ValueTag.Null, maxBytes: 0, num: 0, str: '', bytes: null };
  if (!prepareRaw(value, maxValueBytes, p)) throw new TypeError(`expected a plain value, got ${describe(value)}`);
  return p;
}

/**
 * The value of every tag that needs no codec, into `p`; false for a
 * structured value. Throws TypeError/RangeError as prepare() does.
 */
function prepareRaw(value: unknown, maxValueBytes: number, p: PreparedValue): boolean {
  p.bytes = null;
  p.deferred = undefined;
  switch (typeof value) {
    case 'string': {
      const n = value.length;
      // UTF-8 takes at most 3 bytes per UTF-16 unit and never fewer than 1.
      if (n > maxValueBytes) throw tooLarge(n, maxValueBytes);
      checkWellFormed(value, 'a string value');
      p.tag = ValueTag.String;
      p.str = value;
      p.maxBytes = n * 3 <= maxValueBytes ? n * 3 : Buffer.byteLength(value, 'utf8');
      if (p.maxBytes > maxValueBytes) throw tooLarge(p.maxBytes, maxValueBytes);
      return true;
    }
    case 'number':
      p.num = value;
      if (Number.isInteger(value) && value >= 0 && value <= MAX_U32 && !Object.is(value, -0)) {
        p.tag = ValueTag.U32;
        p.maxBytes = 4;
      } else {
        p.tag = ValueTag.F64;
        p.maxBytes = 8;
      }
      return true;
    case 'boolean':
      p.tag = value ? ValueTag.True : ValueTag.False;
      p.maxBytes = 0;
      return true;
    case 'undefined':
    case 'function':
    case 'symbol':
      throw new TypeError(`cannot store ${typeof value}: values are strings, numbers, booleans, null, bytes or structured data`);
    default:
      break;
  }
  if (value === null) {
    p.tag = ValueTag.Null;
    p.maxBytes = 0;
    return true;
  }
  if (value instanceof Uint8Array && (Buffer.isBuffer(value) || value.constructor === Uint8Array)) {
    if (value.length > maxValueBytes) throw tooLarge(value.length, maxValueBytes);
    p.tag = Buffer.isBuffer(value) ? ValueTag.Buffer : ValueTag.Uint8Array;
    p.bytes = value;
    p.maxBytes = value.length;
    return true;
  }
  return false;
}

/**
 * A prepared value a pending request may hold while queued: caller-owned
 * bytes are copied here, so a caller reusing its buffer cannot change a
 * queued write (codec output and strings already are the request's own).
 */
export function ownValue(p: PreparedValue): PreparedValue {
  if (p.tag === ValueTag.Buffer || p.tag === ValueTag.Uint8Array) p.bytes = Uint8Array.prototype.slice.call(p.bytes!);
  return p;
}

/** Write a prepared (not deferred) value at buf[off, ...); returns the bytes written. */
export function writeValue(p: PreparedValue, buf: Buffer, off: number): number {
  switch (p.tag) {
    case ValueTag.String:
      return p.str.length === 0 ? 0 : buf.write(p.str, off, 'utf8');
    case ValueTag.U32:
      buf.writeUInt32LE(p.num, off);
      return 4;
    case ValueTag.F64:
      buf.writeDoubleLE(p.num, off);
      return 8;
    case ValueTag.True:
    case ValueTag.False:
    case ValueTag.Null:
      return 0;
    default:
      buf.set(p.bytes!, off);
      return p.bytes!.length;
  }
}

/** A value in its metadata envelope (ValueTag.Meta), as a read finds it: judged and opened by the client (client/meta.ts). */
export class Enveloped {
  constructor(readonly bytes: Buffer) {}
}

function tooLarge(n: number, max: number, what = 'value'): RangeError {
  return new RangeError(`${what} of ${n} bytes is over the server's limit of ${max} bytes`);
}
