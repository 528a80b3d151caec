/**
 * Values as tagged bytes. Strings, bytes, numbers, booleans and null need
 * no codec: a ValueTag and the raw bytes (UTF-8 written straight into the
 * shared staging block). Anything else goes through the structured codec
 * chosen by the client's `encoding` (structured.ts), and the tag records
 * which codec wrote it, so any client decodes any value whatever its own
 * encoding option.
 */
import { ValueTag } from '../layout/layout';
import { checkWellFormed, describe } from '../store/keys';
import { decodeStructured, Encoding, encodeStructured } from './structured';

const MAX_U32 = 4294967295;

const CODEC_TAG: Record<Encoding, ValueTag> = { msgpack: ValueTag.Msgpack, v8: ValueTag.V8, json: ValueTag.Json };
const TAG_CODEC: Partial<Record<ValueTag, Encoding>> = {
  [ValueTag.Msgpack]: 'msgpack',
  [ValueTag.V8]: 'v8',
  [ValueTag.Json]: 'json',
};

/**
 * A value checked and ready to be written: its tag, its exact byte length
 * (strings: an upper bound until written), and what to write.
 */
export interface PreparedValue {
  tag: ValueTag;
  /** Bytes the value needs at most. */
  maxBytes: number;
  num: number;
  str: string;
  bytes: Uint8Array | null;
}

/**
 * Check `value` and work out how to store it. Throws TypeError for
 * undefined, functions, symbols (and what the codec refuses), RangeError
 * for a value over `maxValueBytes`. Codec output is copied, so the result
 * stays valid while it waits in a queue.
 */
export function prepareValue(value: unknown, encoding: Encoding, maxValueBytes: number, out?: PreparedValue): PreparedValue {
  const p = out ?? { tag: ValueTag.Null, maxBytes: 0, num: 0, str: '', bytes: null };
  p.bytes = null;
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
      return p;
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
      return p;
    case 'boolean':
      p.tag = value ? ValueTag.True : ValueTag.False;
      p.maxBytes = 0;
      return p;
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
    return p;
  }
  if (value instanceof Uint8Array && (Buffer.isBuffer(value) || value.constructor === Uint8Array)) {
    if (value.length > maxValueBytes) throw tooLarge(value.length, maxValueBytes);
    p.tag = Buffer.isBuffer(value) ? ValueTag.Buffer : ValueTag.Uint8Array;
    p.bytes = value;
    p.maxBytes = value.length;
    return p;
  }
  const encoded = encodeStructured(value, encoding);
  if (encoded.length > maxValueBytes) throw tooLarge(encoded.length, maxValueBytes, describe(value));
  p.tag = CODEC_TAG[encoding];
  p.bytes = Uint8Array.prototype.slice.call(encoded);
  p.maxBytes = encoded.length;
  return p;
}

/**
 * Copy a prepared value of a pending request (strings and codec output
 * already are immutable copies; caller-owned bytes are copied here so a
 * caller reusing its buffer cannot change a queued write).
 */
export function ownValue(p: PreparedValue): PreparedValue {
  const bytes = p.bytes && (p.tag === ValueTag.Buffer || p.tag === ValueTag.Uint8Array) ? Uint8Array.prototype.slice.call(p.bytes) : p.bytes;
  return { tag: p.tag, maxBytes: p.maxBytes, num: p.num, str: p.str, bytes };
}

/** Write a prepared value at buf[off, ...); returns the bytes written. */
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

/** A value in its metadata envelope (ValueTag.Meta), as a server read answers it. */
export class Enveloped {
  constructor(readonly bytes: Buffer) {}
}

/** What a reader found: a tag and the value's number, string or copied bytes. */
export interface RawValue {
  tag: ValueTag;
  num: number;
  str: string;
  bytes: Buffer | null;
}

/** The JavaScript value of a raw value read from the table. */
export function decodeValue(r: RawValue): unknown {
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
      return new Uint8Array(r.bytes!.buffer, r.bytes!.byteOffset, r.bytes!.length);
    case ValueTag.Lease:
    case ValueTag.Failed:
      return undefined; // fetch() bookkeeping, not a value
    case ValueTag.Meta:
      return new Enveloped(r.bytes!); // judged and opened by the client (client/meta.ts)

    default: {
      const codec = TAG_CODEC[r.tag];
      if (codec === undefined) throw new TypeError(`unknown value tag ${r.tag}`);
      return decodeStructured(r.bytes!, codec);
    }
  }
}

function tooLarge(n: number, max: number, what = 'value'): RangeError {
  return new RangeError(`${what} of ${n} bytes is over the server's limit of ${max} bytes`);
}
