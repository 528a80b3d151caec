/**
 * The metadata envelope (ValueTag.Meta): a value plus what only clients
 * judge, so that the server stays a plain store. It carries
 *
 *   - freshness: `freshUntil`, after which the value is stale (grace: the
 *     entry itself lives on until its deadline, freshUntil + grace), and
 *     `bornAt`, when it was written (early refresh: the fraction of its
 *     fresh life gone);
 *   - tokens: for each tag (and each enclosing namespace) the key of its
 *     token and the token's value when the entry was written (tags.ts).
 *
 * LAYOUT (little-endian; times in ms on the monotonic clock, store/clock.ts)
 *   0  u8  inner value's ValueTag      1 u8 0 (reserved)
 *   2  u16 token count n               4 u32 0 (reserved)
 *   8  f64 bornAt                      16 f64 freshUntil (0: fresh until the entry expires)
 *   24 n x [u16 key length, token key bytes, f64 token]
 *   .. the inner value's bytes, as an entry holds them (codec/value.ts)
 *
 * VALIDITY at read: fresh while now < freshUntil (or freshUntil is 0);
 * valid while every token key still holds the token written. A token
 * that is absent (evicted, cleared) never equals one, so a lost token can
 * only invalidate entries, never revive them.
 */
import { PreparedValue, RawValue, writeValue } from '../codec/value';
import { isFetchMark, isValueTag, ValueTag } from '../layout/keys-values';
import { TableCorruptError } from '../errors';
import { ReservedKey } from '../store/keys';

export const META_HEADER_BYTES = 24;

/** A token key and the token an entry was written with. */
export interface TokenRef {
  key: Uint8Array;
  token: number;
}

/** An envelope, opened. */
export interface Opened {
  /** The inner value, ready for decodeValue. */
  raw: RawValue;
  bornAt: number;
  freshUntil: number;
  tokens: TokenRef[];
}

/** The envelope around prepared value `inner` (its bytes are written here). */
export function envelope(inner: PreparedValue, bornAt: number, freshUntil: number, tokens: TokenRef[]): PreparedValue {
  let n = META_HEADER_BYTES;
  for (const t of tokens) n += 2 + t.key.length + 8;
  const b = Buffer.alloc(n + inner.maxBytes);
  b[0] = inner.tag;
  b.writeUInt16LE(tokens.length, 2);
  b.writeDoubleLE(bornAt, 8);
  b.writeDoubleLE(freshUntil, 16);
  let at = META_HEADER_BYTES;
  for (const t of tokens) {
    b.writeUInt16LE(t.key.length, at);
    b.set(t.key, at + 2);
    at += 2 + t.key.length;
    b.writeDoubleLE(t.token, at);
    at += 8;
  }
  const len = at + writeValue(inner, b, at);
  const bytes = len === b.length ? b : b.subarray(0, len);
  return { tag: ValueTag.Meta, maxBytes: bytes.length, num: 0, str: '', bytes };
}

/** Open envelope bytes; TableCorruptError when they cannot be one. */
export function open(bytes: Buffer): Opened {
  const bad = (): never => {
    throw new TableCorruptError(`a metadata envelope of ${bytes.length} bytes makes no sense`);
  };
  if (bytes.length < META_HEADER_BYTES) bad();
  const tag = bytes[0] as ValueTag;
  // Any value's tag but an envelope's or fetch's marks.
  if (!isValueTag(tag) || tag === ValueTag.Meta || isFetchMark(tag)) bad();
  const n = bytes.readUInt16LE(2);
  const tokens: TokenRef[] = [];
  let at = META_HEADER_BYTES;
  for (let i = 0; i < n; i++) {
    if (at + 2 > bytes.length) bad();
    const len = bytes.readUInt16LE(at);
    if (at + 2 + len + 8 > bytes.length) bad();
    tokens.push({ key: new ReservedKey(bytes.buffer as ArrayBuffer, bytes.byteOffset + at + 2, len), token: bytes.readDoubleLE(at + 2 + len) });
    at += 2 + len + 8;
  }
  const body = bytes.subarray(at);
  const raw: RawValue = { tag, num: 0, str: '', bytes: null, bytesLen: 0 };
  switch (tag) {
    case ValueTag.U32:
      if (body.length !== 4) bad();
      raw.num = body.readUInt32LE(0);
      break;
    case ValueTag.F64:
      if (body.length !== 8) bad();
      raw.num = body.readDoubleLE(0);
      break;
    case ValueTag.String:
      raw.str = body.toString('utf8');
      break;
    case ValueTag.True:
    case ValueTag.False:
    case ValueTag.Null:
      if (body.length !== 0) bad();
      break;
    default:
      raw.bytes = Buffer.from(body);
      raw.bytesLen = body.length;
  }
  return { raw, bornAt: bytes.readDoubleLE(8), freshUntil: bytes.readDoubleLE(16), tokens };
}
