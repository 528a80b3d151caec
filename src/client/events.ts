/**
 * Events of one client, for this process's listeners (metrics, logs):
 *
 *   hit     { key, stale }   a read found a value (stale: served past its ttl, in grace)
 *   miss    { key }          a read found none
 *   set     { key }          a write was applied
 *   delete  { key, deleted } a delete was applied
 *   fetch   { key, source, ms }  fetch() resolved: source 'cache' (a hit),
 *           'load' (this process ran the loader), 'wait' (another caller's
 *           load), 'stale' (a stale value, the loader failed or was slow)
 *   stale   { key, reason }  a stale value was served ('failed', 'timeout', 'refreshing')
 *   refresh { key, ok, error? }  a background load ended (early refresh, or
 *           a load that went on after its caller had a stale value)
 *   expire  { count }        the server reclaimed `count` expired entries (machine-wide)
 *   evict   { count }        the server evicted `count` entries (machine-wide)
 *
 * NOTHING WHEN NOBODY LISTENS: the client tests one boolean field
 * (`listening`) before building any event; expire and evict come from
 * polling the server's counters (every EXPIRY_POLL_MS), which runs only
 * while one of them has a listener. The server does not say which keys it
 * evicted or reclaimed, so those two events carry counts.
 */
import type { Key } from '../store/keys';

export interface ClientEvents {
  hit: { key: Key; stale: boolean; namespace?: string };
  miss: { key: Key; namespace?: string };
  set: { key: Key; namespace?: string };
  delete: { key: Key; deleted: boolean; namespace?: string };
  fetch: { key: Key; source: 'cache' | 'load' | 'wait' | 'stale'; ms: number; namespace?: string };
  stale: { key: Key; reason: 'failed' | 'timeout' | 'refreshing'; namespace?: string };
  refresh: { key: Key; ok: boolean; error?: Error; namespace?: string };
  expire: { count: number };
  evict: { count: number };
}
export type EventName = keyof ClientEvents;
export type Listener<E extends EventName> = (event: ClientEvents[E]) => void;

export const EVENT_NAMES: readonly EventName[] = ['hit', 'miss', 'set', 'delete', 'fetch', 'stale', 'refresh', 'expire', 'evict'];
/** How often expire/evict listeners see the server's counters. */
export const EXPIRY_POLL_MS = 100;

export class Events {
  /** Whether any listener is registered: the one test the hot paths make. */
  listening = false;
  private readonly listeners = new Map<EventName, Set<(e: unknown) => void>>();
  private poll: NodeJS.Timeout | null = null;
  private seen = { expirations: -1, evictions: -1 };

  /** `counts` reads the server's machine-wide expirations and evictions. */
  constructor(private readonly counts: () => { expirations: number; evictions: number }) {}

  on<E extends EventName>(name: E, fn: Listener<E>): void {
    if (!EVENT_NAMES.includes(name)) throw new RangeError(`no event '${String(name)}': events are ${EVENT_NAMES.join(', ')}`);
    if (typeof fn !== 'function') throw new TypeError('a listener must be a function');
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(fn as (e: unknown) => void);
    this.listening = true;
    if ((name === 'expire' || name === 'evict') && this.poll === null) {
      this.seen = { expirations: -1, evictions: -1 };
      this.sample();
      this.poll = setInterval(() => this.sample(), EXPIRY_POLL_MS).unref();
    }
  }

  off<E extends EventName>(name: E, fn: Listener<E>): void {
    const set = this.listeners.get(name);
    if (!set) return;
    set.delete(fn as (e: unknown) => void);
    if (set.size === 0) this.listeners.delete(name);
    this.listening = this.listeners.size > 0;
    if (!this.listeners.has('expire') && !this.listeners.has('evict')) this.stop();
  }

  emit<E extends EventName>(name: E, event: ClientEvents[E]): void {
    const set = this.listeners.get(name);
    if (set) for (const fn of set) fn(event);
  }

  /** Stop polling (close()). */
  stop(): void {
    if (this.poll !== null) clearInterval(this.poll);
    this.poll = null;
  }

  private sample(): void {
    let c: { expirations: number; evictions: number };
    try {
      c = this.counts();
    } catch {
      return this.stop(); // the server is gone: nothing more will be reclaimed
    }
    const s = this.seen;
    if (s.expirations >= 0 && c.expirations > s.expirations) this.emit('expire', { count: c.expirations - s.expirations });
    if (s.evictions >= 0 && c.evictions > s.evictions) this.emit('evict', { count: c.evictions - s.evictions });
    this.seen = { expirations: c.expirations, evictions: c.evictions };
  }
}
