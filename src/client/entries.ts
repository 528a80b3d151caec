/**
 * Entries with metadata (meta.ts's envelopes): tagged, namespaced and
 * graced writes, tokens, and the judgement of an envelope at read.
 *
 * TAGS AND NAMESPACES BY TOKEN. Each tag (and each namespace) has a token:
 * a random 48-bit number under a reserved key (reserved.ts). A tagged
 * write first reads the tokens of its tags (creating a missing one with a
 * set-if-absent, so concurrent creators agree on one), then stores them in
 * the entry's envelope. deleteByTag(tag) stores a NEW random token: from
 * the moment that set is applied, every process's read of an entry
 * carrying the old token finds a mismatch and answers absent. The caller's
 * cost is one write per tag, whatever the number of tagged entries; a read
 * of a tagged entry costs one direct read per token (~0.3 us each).
 * Invalidated entries keep their memory until they expire, are evicted or
 * are overwritten (their keys are never visited).
 *
 * Why tokens and not counters: a token key can be evicted or cleared like
 * any entry. A counter that comes back from 0 could match an old entry's
 * count again; a fresh random token matches no entry written before
 * (probability 2^-48), so a lost token only ever invalidates.
 *
 * A write racing a deleteByTag of one of its tags may be invalidated by it
 * even if it completes after it (it read the old token first): a cache may
 * drop a value early, never serve one late.
 */
import { randomBytes } from 'node:crypto';
import { ownValue, preparePlain, PreparedValue, ValueCodec } from '../codec/value';
import { Key, ReservedKey } from '../store/keys';
import { monoNowMs } from '../store/clock';
import { Pending, RequestBuilder, SetOptions } from './requests';
import { envelope, open, Opened, TokenRef } from './meta';
import { tagKey } from './reserved';

/** What the client lends this module: reads that count nothing, and requests. */
export interface EntryHost {
  readonly codec: ValueCodec;
  readonly maxValueBytes: number;
  /** The value under `key` by a direct read, not counted as a hit or miss. */
  peek(key: Key): unknown;
  request(build: (req: RequestBuilder) => Pending): Promise<unknown>;
  requestSync(build: (req: RequestBuilder) => Pending): unknown;
}

/** How an envelope read: fresh, stale (past freshUntil), or invalid (a token changed). */
export const enum Judged {
  Fresh = 0,
  Stale = 1,
  Invalid = 2,
}

/** A new token: 48 random bits, never 0. */
export function newToken(): number {
  return randomBytes(6).readUIntLE(0, 6) + 1;
}

function tokenValue(token: number): PreparedValue {
  return ownValue(preparePlain(token, 8));
}

/** A grace period in ms: finite, >= 0 (undefined: 0). */
export function checkGrace(grace: number | undefined): number {
  if (grace === undefined) return 0;
  if (typeof grace !== 'number' || !(grace >= 0) || grace === Infinity) throw new RangeError(`grace must be a finite number of ms >= 0, got ${String(grace)}`);
  return grace;
}

/** Token keys of `tags`, checked. */
export function tagKeys(tags: readonly string[] | undefined): ReservedKey[] {
  if (tags === undefined) return [];
  if (!Array.isArray(tags)) throw new TypeError('tags must be an array of strings');
  return [...new Set(tags)].map(tagKey);
}

export class Entries {
  /** The envelope judged last (judge()), and its bytes. */
  last: Opened | null = null;
  lastBytes: Buffer | null = null;

  constructor(private readonly host: EntryHost) {}

  /** The token under `key`, or undefined. */
  token(key: Uint8Array): number | undefined {
    const v = this.host.peek(key as ReservedKey);
    return typeof v === 'number' ? v : undefined;
  }

  /** The current tokens of `keys`, creating missing ones (blocking). */
  tokensSync(keys: ReservedKey[]): TokenRef[] {
    return keys.map((key) => {
      for (;;) {
        const t = this.token(key);
        if (t !== undefined) return { key, token: t };
        this.host.requestSync((req) => req.compareAndSetPrepared(key, null, tokenValue(newToken()), 0));
      }
    });
  }

  async tokens(keys: ReservedKey[]): Promise<TokenRef[]> {
    return Promise.all(
      keys.map(async (key) => {
        for (;;) {
          const t = this.token(key);
          if (t !== undefined) return { key, token: t };
          await this.host.request((req) => req.compareAndSetPrepared(key, null, tokenValue(newToken()), 0));
        }
      }),
    );
  }

  /** New tokens for `keys`: every entry carrying an old one reads as absent once this returns. */
  invalidateSync(keys: ReservedKey[]): void {
    for (const key of keys) this.host.requestSync((req) => req.setPrepared(key, tokenValue(newToken()), 0));
  }

  async invalidate(keys: ReservedKey[]): Promise<void> {
    await Promise.all(keys.map((key) => this.host.request((req) => req.setPrepared(key, tokenValue(newToken()), 0))));
  }

  /**
   * Judge envelope `bytes` now: Invalid when a token changed, Stale when
   * past its freshness, else Fresh. The opened envelope is left in `last`.
   */
  judge(bytes: Buffer): Judged {
    const o = open(bytes);
    this.last = o;
    this.lastBytes = bytes;
    for (const t of o.tokens) if (this.token(t.key) !== t.token) return Judged.Invalid;
    return o.freshUntil !== 0 && monoNowMs() >= o.freshUntil ? Judged.Stale : Judged.Fresh;
  }

  /**
   * The request storing `value` under `key` in an envelope carrying
   * `tokens`, fresh for the options' ttl and kept `grace` ms longer.
   */
  write(req: RequestBuilder, key: Key, value: unknown, options: SetOptions | undefined, tokens: TokenRef[]): Pending {
    const { data, expires } = this.prepare(req, value, options, tokens);
    return options?.ifAbsent ? req.compareAndSetPrepared(key, null, data, expires) : req.setPrepared(key, data, expires);
  }

  /** `value`'s envelope and the entry's deadline (freshness + grace; 0 = never). */
  prepare(req: RequestBuilder, value: unknown, options: SetOptions | undefined, tokens: TokenRef[]): { data: PreparedValue; expires: number } {
    return this.wrap(req, this.host.codec.prepare(value), options, tokens);
  }

  /** prepare() for a value already prepared. */
  wrap(req: RequestBuilder, inner: PreparedValue, options: SetOptions | undefined, tokens: TokenRef[]): { data: PreparedValue; expires: number } {
    const grace = checkGrace(options?.grace);
    const fresh = req.deadline(options);
    const data = envelope(inner, monoNowMs(), fresh, tokens);
    if (data.maxBytes > this.host.maxValueBytes)
      throw new RangeError(`value of ${data.maxBytes} bytes with its metadata is over the server's limit of ${this.host.maxValueBytes} bytes`);
    return { data, expires: fresh === 0 ? 0 : fresh + grace };
  }
}
