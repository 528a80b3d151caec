/**
 * connect()'s options beyond the connection's (connection.ts), and their
 * checks: a bad option is one TypeError or RangeError naming it, thrown
 * before anything is mapped or reserved.
 */
import type { ConnectOptions } from './connection';
import type { LocalCacheOptions } from './local-cache';
import { DEFAULT_ENCODING, Encoding } from '../codec/structured';
import { checkTtl } from './checks';

export interface ClientOptions extends ConnectOptions {
  /** Requests the promise API keeps in flight (default 32). */
  window?: number;
  /** Codec of structured values (objects, Map, Date...): 'msgpack' (default), 'v8' or 'json'. */
  encoding?: Encoding;
  /**
   * A cache of decoded values in this process, coherent with the table
   * (local-cache.ts): `true` for the default size, or its bounds. Values
   * it returns are deeply frozen. Default: none.
   */
  localCache?: LocalCacheOptions | boolean;
  /** Default time to live of this client's writes, in ms (default: the server's --ttl, else never). */
  ttl?: number;
}

export const DEFAULT_CLIENT_WINDOW = 32;

/** Options of a read. */
export interface GetOptions {
  /** Also return a value past its ttl that grace keeps (lru-cache's allowStale). */
  allowStale?: boolean;
}

/** ClientOptions checked, with their defaults. */
export interface ClientSettings {
  /** Windows of the promise pipeline. */
  window: number;
  encoding: Encoding;
  /** The client's default ttl (undefined: the server's). */
  ttl: number | undefined;
  /** The local cache's bounds (true: the defaults), or null for none. */
  localCache: LocalCacheOptions | true | null;
}

/** Check `options` in a fixed order (window, encoding, ttl, localCache): the first bad one throws. */
export function clientSettings(options: ClientOptions): ClientSettings {
  const window = options.window ?? DEFAULT_CLIENT_WINDOW;
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`window must be a positive integer, got ${window}`);
  const encoding = options.encoding ?? DEFAULT_ENCODING;
  if (!['v8', 'msgpack', 'json'].includes(encoding)) throw new RangeError(`encoding must be 'msgpack', 'v8' or 'json', got ${String(options.encoding)}`);
  const ttl = options.ttl === undefined ? undefined : checkTtl(options.ttl);
  const lc = options.localCache;
  if (lc !== undefined && typeof lc !== 'boolean' && (typeof lc !== 'object' || lc === null)) throw new TypeError(`localCache must be a boolean or { max, maxBytes }, got ${String(lc)}`);
  return { window, encoding, ttl, localCache: lc === true ? true : lc ? lc : null };
}
