/**
 * How keys and values are spelled inside entries and staging blocks: a
 * key's first byte (KeyKind, including the library's System and the
 * client's Reserved keys), a value's tag (ValueTag) and what each tag
 * allows, and the key and value size limits. Apart from the records
 * because every layer reads them: the server checks requests by them, the
 * store keeps them in ENTRY_TAG, the client and codecs decode by them.
 */

/** First byte of a key's material. */
export const enum KeyKind {
  U32 = 0,
  String = 1,
  Bytes = 2,
  /**
   * The library's pinned keys (the codec's shared record structures):
   * never evicted, never removed by clear(), invisible to key scans.
   */
  System = 3,
  /**
   * The client's reserved keys (tag and namespace tokens, namespaced
   * entries, fetch's leases: src/client/reserved.ts): evicted and cleared
   * like any key, listed only by scans that ask for them.
   */
  Reserved = 4,
}
export const KEY_KIND_BYTES = 1;

/** How a value's bytes are to be read back. */
export enum ValueTag {
  U32 = 1,
  F64 = 2,
  String = 3,
  Buffer = 4,
  Uint8Array = 5,
  True = 6,
  False = 7,
  Null = 8,
  Msgpack = 9,
  V8 = 10,
  Json = 11,
  /** A fetch() in progress: bytes = holder pid (u32); reads as absent. */
  Lease = 12,
  /** A fetch() whose loader failed: bytes = the error message (UTF-8); reads as absent. */
  Failed = 13,
  /**
   * A value with client-side metadata (freshness for grace, tag tokens):
   * bytes = the envelope of src/client/meta.ts, the value inside. The
   * server stores it like any byte value; clients judge it at read.
   */
  Meta = 14,
  /**
   * The tagged structured format (src/codec/records.ts): a format byte
   * naming the codec, the epoch of the table's shared record structures,
   * then the codec's bytes (msgpackr records against those structures).
   */
  Tagged = 15,
}
export const MAX_VALUE_TAG = 15;

/** Bit t set: t is a ValueTag this build knows (tags are assigned sparsely). */
const KNOWN_VALUE_TAGS = Object.values(ValueTag).reduce<number>((m, t) => (typeof t === 'number' ? m | (1 << t) : m), 0);

/** Whether `tag` is a ValueTag of this build (a request check: a tag from shared memory is any number). */
export function isValueTag(tag: number): boolean {
  return tag >= 1 && tag <= MAX_VALUE_TAG && ((KNOWN_VALUE_TAGS >>> tag) & 1) === 1;
}

/** Byte length a fixed-size tag requires, or -1 for variable-length tags. */
export function fixedValueBytes(tag: number): number {
  switch (tag) {
    case ValueTag.U32:
      return 4;
    case ValueTag.F64:
      return 8;
    case ValueTag.True:
    case ValueTag.False:
    case ValueTag.Null:
      return 0;
    default:
      return -1;
  }
}

/** A known tag, with a length its fixed size allows: what the server stores (a request) and keeps (a repair). */
export function valueShapeOk(tag: number, len: number): boolean {
  if (!isValueTag(tag)) return false;
  const fixed = fixedValueBytes(tag);
  return fixed < 0 || len === fixed;
}

/** A value a structured codec wrote (src/codec): its bytes are decoded by one. */
export function isCodecTag(tag: number): boolean {
  return tag === ValueTag.Msgpack || tag === ValueTag.V8 || tag === ValueTag.Json || tag === ValueTag.Tagged;
}

/** fetch()'s bookkeeping (a lease, a failure mark): stored like values, read as absent. */
export function isFetchMark(tag: number): boolean {
  return tag === ValueTag.Lease || tag === ValueTag.Failed;
}

export const DEFAULT_MAX_KEY_BYTES = 4096;
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;
/** Upper bounds for the server's configurable limits (a key's material length is a u16). */
export const MAX_KEY_BYTES_LIMIT = 65534;
export const MAX_VALUE_BYTES_LIMIT = 512 * 1024 * 1024;
