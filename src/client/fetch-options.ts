/**
 * fetch()'s options, checked and resolved once per call, and the small
 * conversions fetch.ts needs (a key's identity within the process, an
 * entry as a CompareSet expects it).
 */
import { PreparedValue } from '../codec/value';
import { Key, ReservedKey } from '../store/keys';
import { ValueTag } from '../layout/keys-values';
import type { SetOptions } from './requests';
import { checkGrace, tagKeys } from './entries';

/** Options of fetch(). */
export interface FetchOptions extends Omit<SetOptions, 'ifAbsent'> {
  /** soft: ms a caller holding a stale value waits for the load; hard: ms before a caller with nothing rejects. */
  timeout?: { soft?: number; hard?: number };
  /** Reload in the background once this fraction (0..1, exclusive) of the value's ttl has passed. */
  earlyRefresh?: number;
  /** Run the loader even if a fresh value is cached (lru-cache's forceRefresh, Bentocache's forceFresh). */
  forceRefresh?: boolean;
}

export interface Resolved {
  set: FetchOptions;
  grace: number;
  soft: number;
  hard: number;
  early: number;
  force: boolean;
  /** Whether the value must be stored in an envelope (grace, tags, early refresh, a namespace). */
  envelope: boolean;
  tokenKeys: ReservedKey[];
}

/** Check `options` (TypeError/RangeError) and fill in the defaults; `implicit`: a namespace's token keys. */
export function resolve(options: FetchOptions | undefined, implicit: ReservedKey[]): Resolved {
  const o = options ?? {};
  const grace = checkGrace(o.grace);
  const t = o.timeout ?? {};
  if (typeof t !== 'object') throw new TypeError('timeout must be { soft?, hard? } in ms');
  const ms = (v: number | undefined, what: string, def: number): number => {
    if (v === undefined) return def;
    if (typeof v !== 'number' || !(v >= 0)) throw new RangeError(`timeout.${what} must be a number of ms >= 0, got ${String(v)}`);
    return v;
  };
  const early = o.earlyRefresh ?? 0;
  if (typeof early !== 'number' || !(early >= 0 && early < 1)) throw new RangeError(`earlyRefresh must be a fraction of the ttl in [0, 1), got ${String(early)}`);
  const tokenKeys = [...implicit, ...tagKeys(o.tags)];
  return {
    set: o,
    grace,
    soft: ms(t.soft, 'soft', grace > 0 ? 0 : Infinity),
    hard: ms(t.hard, 'hard', Infinity),
    early,
    force: o.forceRefresh === true,
    envelope: grace > 0 || early > 0 || tokenKeys.length > 0,
    tokenKeys,
  };
}

/** A key's identity within this process (loads in flight are shared by it). */
export function keyId(key: Key): string {
  if (typeof key === 'string') return `s${key}`;
  if (typeof key === 'number') return `n${key}`;
  return `${key instanceof ReservedKey ? 'r' : 'b'}${Buffer.from(key.buffer, key.byteOffset, key.length).toString('hex')}`;
}

/** Bytes under `tag`, as a CompareSet sends them. */
export function raw(tag: ValueTag, bytes: Uint8Array): PreparedValue {
  return { tag, maxBytes: bytes.length, num: 0, str: '', bytes };
}

/** A plain value read directly, as a CompareSet expects it. */
export function asPrepared(f: { tag: ValueTag; str: string; num: number; bytes: Buffer | null; bytesLen: number }): PreparedValue {
  switch (f.tag) {
    case ValueTag.String:
      return { tag: f.tag, maxBytes: Buffer.byteLength(f.str, 'utf8'), num: 0, str: f.str, bytes: null };
    case ValueTag.U32:
      return { tag: f.tag, maxBytes: 4, num: f.num, str: '', bytes: null };
    case ValueTag.F64:
      return { tag: f.tag, maxBytes: 8, num: f.num, str: '', bytes: null };
    case ValueTag.True:
    case ValueTag.False:
    case ValueTag.Null:
      return { tag: f.tag, maxBytes: 0, num: 0, str: '', bytes: null };
    default:
      // A codec's bytes are in the reader's scratch buffer: its first bytesLen, copied.
      return raw(f.tag, Buffer.from(f.bytes!.subarray(0, f.bytesLen)));
  }
}
