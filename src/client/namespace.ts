/**
 * kv.namespace('users'): a view of the table with its own keys, clear()
 * and size. Its entries live under reserved keys (reserved.ts: 0xFF 'N',
 * the namespace's path, then the user key's material), so they never meet
 * the root's keys or another namespace's, and never show in kv.keys().
 *
 * CLEAR WITHOUT VISITING KEYS. Every entry of a namespace carries the
 * token of its namespace and of each enclosing one, as tags carry theirs
 * (entries.ts): clear() stores a new token (one write), after which every
 * process reads the old entries as absent. Their memory is reclaimed when
 * they expire, are evicted or are overwritten. A nested namespace
 * (ns.namespace('x')) is cleared with its parent.
 *
 * size and keys() scan the whole table (one pass over every index slot,
 * as keysWithPrefix does) and judge each entry of the namespace: they
 * cost time in proportion to the table, not to the namespace.
 */
import type { GetOptions } from './client-options';
import type { SetOptions } from './requests';
import type { FetchOptions } from './fetch-options';
import { decodeKey, Key, ReservedKey } from '../store/keys';
import { KEY_KIND_BYTES, KeyKind } from '../layout/keys-values';
import { KIND_NS_ENTRY, MaterialEncoder, NamespacedKey, namespaceTokenKey, pathBytes } from './reserved';
import { checkWellFormed, RESERVED_KEY_BYTE } from '../store/keys';
import { rejecting } from './promises';

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError(`a namespace name must be a non-empty string, got ${typeof name === 'string' ? "''" : typeof name}`);
  if (name.includes('\u0000')) throw new TypeError('a namespace name cannot contain NUL');
  checkWellFormed(name, 'a namespace name');
}

/**
 * What a namespace needs from its client (client.ts builds it): the
 * client's reads and deletes of a key, the enveloped writes and fetch that
 * add the namespace's tokens, its invalidation, and the scan under size
 * and keys(). A contract, so that this file does not import the Client.
 */
export interface NamespaceHost {
  readonly maxKeyBytes: number;
  getSync(key: Key, options?: GetOptions): unknown;
  get(key: Key, options?: GetOptions): Promise<unknown>;
  ttlSync(key: Key): number | undefined;
  deleteSync(key: Key): boolean;
  delete(key: Key): Promise<boolean>;
  deleteByTag(tags: readonly string[]): Promise<void>;
  /** A set whose entry carries the tokens `implicit` (and its tags'). */
  setEnveloped(key: Key, value: unknown, options: SetOptions, implicit: ReservedKey[]): Promise<boolean>;
  setEnvelopedSync(key: Key, value: unknown, options: SetOptions, implicit: ReservedKey[]): boolean;
  /** A fetch whose stored value carries the tokens `implicit`. */
  fetchWith<V>(key: Key, loader: (key: Key) => V | Promise<V>, options: FetchOptions | undefined, implicit: ReservedKey[]): Promise<V | undefined>;
  /** New tokens for `keys`: every entry carrying an old one reads as absent. */
  invalidate(keys: ReservedKey[]): Promise<void>;
  invalidateSync(keys: ReservedKey[]): void;
  /** Every key's material, reserved keys included (blocking). */
  materialsSync(): Buffer[];
  /** Whether `key` holds a fresh value, counting and reporting nothing. */
  liveSync(key: Key): boolean;
}

export class Namespace {
  /** The names from the root, joined by ':' (for display). */
  readonly name: string;
  private readonly path: string;
  private readonly prefix: Buffer;
  private readonly tokens: ReservedKey[];
  private readonly own: ReservedKey;
  private readonly mat: MaterialEncoder;

  constructor(
    private readonly client: NamespaceHost,
    readonly names: readonly string[],
  ) {
    names.forEach(checkName);
    this.name = names.join(':');
    this.path = names.join('\u0000');
    this.prefix = Buffer.concat([Buffer.from([RESERVED_KEY_BYTE, KIND_NS_ENTRY]), pathBytes(this.path)]);
    this.tokens = names.map((_, i) => namespaceTokenKey(names.slice(0, i + 1).join('\u0000')));
    this.own = this.tokens[this.tokens.length - 1];
    this.mat = new MaterialEncoder(client.maxKeyBytes);
  }

  /** A namespace inside this one: cleared when this one is. */
  namespace(name: string): Namespace {
    return new Namespace(this.client, [...this.names, name]);
  }

  private key(key: Key): NamespacedKey {
    return this.mat.namespaced(this.prefix, this.name, key);
  }

  getSync(key: Key, options?: GetOptions): unknown {
    return this.client.getSync(this.key(key), options);
  }

  get(key: Key, options?: GetOptions): Promise<unknown> {
    return rejecting(() => this.client.get(this.key(key), options));
  }

  hasSync(key: Key): boolean {
    return this.getSync(key) !== undefined;
  }

  has(key: Key): Promise<boolean> {
    return this.get(key).then((v) => v !== undefined);
  }

  ttlSync(key: Key): number | undefined {
    return this.client.ttlSync(this.key(key));
  }

  setSync(key: Key, value: unknown, options?: SetOptions): boolean {
    return this.client.setEnvelopedSync(this.key(key), value, options ?? {}, this.tokens);
  }

  set(key: Key, value: unknown, options?: SetOptions): Promise<boolean> {
    return rejecting(() => this.client.setEnveloped(this.key(key), value, options ?? {}, this.tokens));
  }

  deleteSync(key: Key): boolean {
    return this.client.deleteSync(this.key(key));
  }

  delete(key: Key): Promise<boolean> {
    return rejecting(() => this.client.delete(this.key(key)));
  }

  /** fetch() within the namespace (its values carry the namespace's tokens). */
  fetch<V>(key: Key, loader: (key: Key) => V | Promise<V>, options?: FetchOptions): Promise<V | undefined> {
    return rejecting(() => this.client.fetchWith(this.key(key), () => loader(key), options, this.tokens));
  }

  /** Tags are machine-wide: the same as kv.deleteByTag. */
  deleteByTag(tags: readonly string[]): Promise<void> {
    return this.client.deleteByTag(tags);
  }

  /** Drop every entry of this namespace and of the namespaces inside it: one write. */
  clearSync(): void {
    this.client.invalidateSync([this.own]);
  }

  clear(): Promise<void> {
    return rejecting(() => this.client.invalidate([this.own]));
  }

  /** The live keys of this namespace (a scan of the whole table, blocking). */
  keysSync(): Key[] {
    const out: Key[] = [];
    const want = this.prefix;
    for (const m of this.client.materialsSync()) {
      if (m[0] !== KeyKind.Reserved || m.length <= KEY_KIND_BYTES + want.length) continue;
      if (!m.subarray(KEY_KIND_BYTES, KEY_KIND_BYTES + want.length).equals(want)) continue;
      const key = decodeKey(m.subarray(KEY_KIND_BYTES + want.length));
      if (this.client.liveSync(this.key(key))) out.push(key);
    }
    return out;
  }

  async *keys(): AsyncGenerator<Key> {
    for (const k of this.keysSync()) yield k;
  }

  /** Live entries of this namespace (keysSync().length: a scan of the whole table). */
  get size(): number {
    return this.keysSync().length;
  }
}
