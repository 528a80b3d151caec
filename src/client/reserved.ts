/**
 * The client's reserved keys (see store/keys.ts: material of their own
 * kind, KeyKind.Reserved, which no user key has): where tag tokens,
 * namespace tokens, namespaced entries and fetch leases live. Each is
 * RESERVED_KEY_BYTE (0xFF), one letter saying what it is, then its name:
 *
 *   0xFF 'T' tag (UTF-8)                   a tag's token (tags.ts)
 *   0xFF 'G' u16 length, namespace path    a namespace's token
 *   0xFF 'N' u16 length, namespace path,   an entry of a namespace
 *            then the user key's material
 *   0xFF 'L' the key's material            fetch()'s lease on a key
 *   0xFF 'H' SHA-256 of the material       the same, for a key too long
 *                                          to take two more bytes
 *
 * A namespace path is its names joined by NUL (names cannot hold NUL), so
 * 'a' then 'b' and 'a\0b' cannot both exist. Reserved keys never show in
 * keys(), keysWithPrefix() or a Keyv iterator.
 */
import { createHash } from 'node:crypto';
import { checkWellFormed, Key, KeyEncoder, RESERVED_KEY_BYTE, ReservedKey } from '../store/keys';
import { KEY_KIND_BYTES } from '../layout/keys-values';

export const KIND_TAG = 0x54; // 'T'
export const KIND_NS_TOKEN = 0x47; // 'G'
export const KIND_NS_ENTRY = 0x4e; // 'N'
export const KIND_LEASE = 0x4c; // 'L'
export const KIND_LEASE_HASHED = 0x48; // 'H'

/** A namespaced entry's key: it remembers the namespace and the user's key (events, keys()). */
export class NamespacedKey extends ReservedKey {
  namespace = '';
  userKey: Key = '';
}

function reserved(kind: number, body: Uint8Array): ReservedKey {
  const k = new ReservedKey(2 + body.length);
  k[0] = RESERVED_KEY_BYTE;
  k[1] = kind;
  k.set(body, 2);
  return k;
}

/** The key of tag `tag`'s token. */
export function tagKey(tag: string): ReservedKey {
  if (typeof tag !== 'string' || tag.length === 0) throw new TypeError(`a tag must be a non-empty string, got ${typeof tag === 'string' ? "''" : typeof tag}`);
  checkWellFormed(tag, 'a tag');
  return reserved(KIND_TAG, Buffer.from(tag, 'utf8'));
}

/** The bytes that start every key of namespace `path` (its length-prefixed path), after the kind letter. */
export function pathBytes(path: string): Buffer {
  const p = Buffer.from(path, 'utf8');
  if (p.length > 0xffff) throw new RangeError(`a namespace path of ${p.length} bytes is over 65535`);
  const b = Buffer.allocUnsafe(2 + p.length);
  b.writeUInt16LE(p.length, 0);
  p.copy(b, 2);
  return b;
}

/** The key of namespace `path`'s token. */
export function namespaceTokenKey(path: string): ReservedKey {
  return reserved(KIND_NS_TOKEN, pathBytes(path));
}

/**
 * Turns user keys into their material (the same bytes the client sends),
 * for keys built on them: namespaced entries and leases.
 */
export class MaterialEncoder {
  private readonly enc: KeyEncoder;

  constructor(private readonly maxKeyBytes: number) {
    // The hash seed is unused: only the material is wanted, not its hash.
    this.enc = new KeyEncoder(maxKeyBytes, 0);
  }

  /** A copy of `key`'s material; throws TypeError/RangeError as the client would. */
  material(key: Key): Buffer {
    this.enc.encode(key);
    return Buffer.from(this.enc.bytes.subarray(0, this.enc.length));
  }

  /** The key of namespace `path`'s entry `key` (prefix: 0xFF 'N' then pathBytes(path)). */
  namespaced(prefix: Buffer, path: string, key: Key): NamespacedKey {
    const m = this.material(key);
    const k = new NamespacedKey(prefix.length + m.length);
    k.set(prefix, 0);
    k.set(m, prefix.length);
    if (k.length > this.maxKeyBytes) throw new RangeError(`key of ${m.length - KEY_KIND_BYTES} bytes is too long for namespace '${path}': the server's limit is ${this.maxKeyBytes} bytes, ${prefix.length} of them the namespace's`);
    k.namespace = path;
    k.userKey = key;
    return k;
  }

  /** The key of fetch()'s lease on `key`. */
  lease(key: Key): ReservedKey {
    const m = this.material(key);
    if (m.length + 2 <= this.maxKeyBytes) return reserved(KIND_LEASE, m);
    return reserved(KIND_LEASE_HASHED, createHash('sha256').update(m).digest());
  }
}
