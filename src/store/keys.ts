/**
 * Keys as bytes. A key's MATERIAL is one KeyKind byte followed by the key:
 * a u32 in little-endian, a string in UTF-8, or the raw bytes of a
 * Uint8Array/Buffer. Equality of keys is equality of material, so 1, '1'
 * and the bytes of '1' are three different keys (as in a Map), and the
 * server, the direct readers of every process and the hash function all
 * agree on one byte string per key.
 *
 * The hash is MurmurHash3 (x86, 32-bit) of the material with the table's
 * seed, random per server start: keys chosen to collide under a fixed
 * function spread like random keys.
 */
import { KEY_KIND_BYTES, KeyKind } from '../layout/keys-values';

export type Key = string | number | Uint8Array;

/**
 * RESERVED KEYS. The client's own bookkeeping (tag and namespace tokens,
 * namespaced keys, fetch leases: src/client/reserved.ts) lives under
 * material of its own kind, KeyKind.Reserved, which no user key has: scans
 * that list user keys skip it, and it is evicted and cleared like any key.
 * Its first byte (RESERVED_KEY_BYTE) is a version mark of reserved.ts.
 */
export const RESERVED_KEY_BYTE = 0xff;

/** A reserved key: its bytes (RESERVED_KEY_BYTE first) become KeyKind.Reserved material. */
export class ReservedKey extends Uint8Array {}

/**
 * A pinned key of the library (the codec's shared record structures): its
 * bytes become KeyKind.System material, never evicted, never cleared,
 * invisible to scans and to the application.
 */
export class SystemKey extends Uint8Array {}

/** Whether the `len` bytes of material at u8[off] are a reserved key's. */
export function isReservedMaterial(u8: Uint8Array, off: number, len: number): boolean {
  return len > KEY_KIND_BYTES && u8[off] === KeyKind.Reserved;
}

const MAX_U32 = 4294967295;

/** MurmurHash3_x86_32 of u8[off, off + len) with `seed`. */
export function hashBytes(u8: Uint8Array, off: number, len: number, seed: number): number {
  let h = seed >>> 0;
  const end4 = off + (len & ~3);
  let i = off;
  for (; i < end4; i += 4) {
    let k = u8[i] | (u8[i + 1] << 8) | (u8[i + 2] << 16) | (u8[i + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = len & 3;
  if (rest !== 0) {
    let k = u8[i];
    if (rest > 1) k |= u8[i + 1] << 8;
    if (rest > 2) k |= u8[i + 2] << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * hashBytes of the material of u32 `key` (what writeU32Key writes), without
 * writing it: the u32 replay hashes one per request.
 */
export function hashU32Key(key: number, seed: number): number {
  // Block 1: the kind byte and the key's low three bytes, little-endian.
  let k = Math.imul(KeyKind.U32 | (key << 8), 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  let h = (seed >>> 0) ^ Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  // Tail: the key's high byte.
  k = Math.imul(key >>> 24, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h ^= U32_KEY_BYTES;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Write the material of u32 `key` at u8[off..off+5). */
export function writeU32Key(u8: Uint8Array, off: number, key: number): void {
  u8[off] = KeyKind.U32;
  u8[off + 1] = key & 0xff;
  u8[off + 2] = (key >>> 8) & 0xff;
  u8[off + 3] = (key >>> 16) & 0xff;
  u8[off + 4] = (key >>> 24) & 0xff;
}
export const U32_KEY_BYTES = KEY_KIND_BYTES + 4;

/** The u32 little-endian at u8[off..off+4). */
export function readU32LE(u8: Uint8Array, off: number): number {
  return (u8[off] | (u8[off + 1] << 8) | (u8[off + 2] << 16) | (u8[off + 3] << 24)) >>> 0;
}

/** Whether the `len` bytes of material at u8[off] are a u32 key's. */
export function isU32Key(u8: Uint8Array, off: number, len: number): boolean {
  return len === U32_KEY_BYTES && u8[off] === KeyKind.U32;
}

/**
 * Turns user keys into material in a reusable private buffer, checking
 * them on the way: a number must be an integer in 0..2^32-1, a string or
 * byte key at most `maxKeyBytes` long; anything else is a TypeError.
 */
export class KeyEncoder {
  /** The material of the last encoded key: bytes[0, length). */
  bytes: Buffer;
  length = 0;
  /** Its hash with the table's seed. */
  hash = 0;

  constructor(
    private readonly maxKeyBytes: number,
    private readonly seed: number,
  ) {
    this.bytes = Buffer.allocUnsafe(Math.min(maxKeyBytes, 256) + KEY_KIND_BYTES);
  }

  /** Encode and hash `key`; throws TypeError or RangeError naming the problem. */
  encode(key: Key): void {
    if (typeof key === 'string') this.encodeString(key);
    else if (typeof key === 'number') {
      if (!Number.isInteger(key) || key < 0 || key > MAX_U32)
        throw new RangeError(`a number key must be an integer in 0..4294967295, got ${String(key)}`);
      writeU32Key(this.bytes, 0, key);
      this.length = U32_KEY_BYTES;
    } else if (key instanceof Uint8Array) {
      if (key.length > this.maxKeyBytes) throw this.tooLong(key.length);
      this.room(key.length);
      this.bytes[0] = key instanceof ReservedKey ? KeyKind.Reserved : key instanceof SystemKey ? KeyKind.System : KeyKind.Bytes;
      this.bytes.set(key, KEY_KIND_BYTES);
      this.length = KEY_KIND_BYTES + key.length;
    } else {
      throw new TypeError(`a key must be a string, a Uint8Array/Buffer or a u32 number, got ${describe(key)}`);
    }
    this.hash = hashBytes(this.bytes, 0, this.length, this.seed);
  }

  private encodeString(key: string): void {
    const n = key.length;
    // UTF-8 never takes fewer bytes than UTF-16 code units.
    if (n > this.maxKeyBytes) throw this.tooLong(n);
    this.room(n);
    const b = this.bytes;
    b[0] = KeyKind.String;
    // ASCII fast path: no call into the UTF-8 encoder for short plain keys.
    let i = 0;
    if (n <= 64) {
      for (; i < n; i++) {
        const c = key.charCodeAt(i);
        if (c >= 0x80) break;
        b[KEY_KIND_BYTES + i] = c;
      }
    }
    if (i === n) {
      this.length = KEY_KIND_BYTES + n;
      return;
    }
    checkWellFormed(key, 'a string key');
    const bytes = n * 3 <= this.maxKeyBytes ? n * 3 : Buffer.byteLength(key, 'utf8');
    if (bytes > this.maxKeyBytes) throw this.tooLong(bytes);
    this.room(bytes);
    this.length = KEY_KIND_BYTES + this.bytes.write(key, KEY_KIND_BYTES, 'utf8');
  }

  private room(n: number): void {
    if (this.bytes.length < n + KEY_KIND_BYTES) {
      const grown = Buffer.allocUnsafe(Math.max(n, this.bytes.length * 2) + KEY_KIND_BYTES);
      grown.set(this.bytes.subarray(0, 1));
      this.bytes = grown;
    }
  }

  private tooLong(n: number): RangeError {
    return new RangeError(`key of ${n} bytes is over the server's limit of ${this.maxKeyBytes} bytes`);
  }
}

/**
 * Throw a TypeError when `s` holds a lone surrogate (a UTF-16 half of a
 * pair without its other half): UTF-8 cannot encode one, and Buffer would
 * write U+FFFD in its place, so that '\uD800', '\uDC00' and '\uFFFD' would be
 * one key, and a value would come back changed. isWellFormed() answers a
 * one-byte string at once (it cannot hold a surrogate) and scans a two-byte
 * one, which the UTF-8 encoding then scans again anyway.
 */
export function checkWellFormed(s: string, what: string): void {
  if (s.isWellFormed()) return;
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
    else if ((c & 0xf800) === 0xd800) break;
  }
  const unit = s.charCodeAt(i).toString(16).toUpperCase();
  throw new TypeError(`${what} holds a lone surrogate (\\u${unit} at index ${i}), which UTF-8 cannot encode: give a well-formed string (or a Buffer for arbitrary bytes)`);
}

/** The user's key back from its material (as keys(), entries() yield it). */
export function decodeKey(material: Buffer): Key {
  const body = material.subarray(KEY_KIND_BYTES);
  switch (material[0]) {
    case KeyKind.U32:
      return body.readUInt32LE(0);
    case KeyKind.String:
      return body.toString('utf8');
    default:
      return Buffer.from(body);
  }
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}
