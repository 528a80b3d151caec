/**
 * The writes that do more than send one request: set and delete (which
 * report events), enveloped sets (tags, grace, a namespace's tokens:
 * entries.ts), batches, and tag invalidation. Each write is a request
 * (requests.ts) run through the sync window or the promise pipeline
 * (client-core.ts); the server's threads apply it.
 */
import { Key } from '../store/keys';
import type { ClientCore } from './client-core';
import type { Entries } from './entries';
import { tagKeys } from './entries';
import { SetOptions } from './requests';
import { NamespacedKey } from './reserved';
import { rejecting } from './promises';

/** Whether `options` ask for an envelope (tags or grace). */
function enveloped(options: SetOptions | undefined): boolean {
  return options !== undefined && (options.tags !== undefined || options.grace !== undefined);
}

export class Writes {
  constructor(
    private readonly core: ClientCore,
    private readonly envelopes: Entries,
  ) {}

  setSync(key: Key, value: unknown, options?: SetOptions): boolean {
    if (enveloped(options)) return this.setEnvelopedSync(key, value, options!, []);
    // Written at once: a structured value is encoded straight into the window's staging block.
    const core = this.core;
    const stored = core.runSync(core.req.set(key, value, options, true)) as boolean;
    if (core.events.listening && stored) this.emitKey('set', key);
    return stored;
  }

  set(key: Key, value: unknown, options?: SetOptions): Promise<boolean> {
    return rejecting(() => {
      if (enveloped(options)) return this.setEnveloped(key, value, options!, []);
      const core = this.core;
      const p = core.enqueue(core.req.set(key, value, options)) as Promise<boolean>;
      return core.events.listening ? p.then((stored) => (stored && this.emitKey('set', key), stored)) : p;
    });
  }

  deleteSync(key: Key): boolean {
    const core = this.core;
    const deleted = core.runSync(core.req.delete(key)) as boolean;
    if (core.events.listening) this.emitKey('delete', key, deleted);
    return deleted;
  }

  delete(key: Key): Promise<boolean> {
    return rejecting(() => {
      const core = this.core;
      const p = core.enqueue(core.req.delete(key)) as Promise<boolean>;
      return core.events.listening ? p.then((deleted) => (this.emitKey('delete', key, deleted), deleted)) : p;
    });
  }

  /** set() of an enveloped entry (tags, grace, a namespace's tokens `implicit`). */
  async setEnveloped(key: Key, value: unknown, options: SetOptions, implicit: Uint8Array[]): Promise<boolean> {
    const tokens = await this.envelopes.tokens([...(implicit as NamespacedKey[]), ...tagKeys(options.tags)]);
    const stored = (await this.core.request((req) => this.envelopes.write(req, key, value, options, tokens))) as boolean;
    if (this.core.events.listening && stored) this.emitKey('set', key);
    return stored;
  }

  setEnvelopedSync(key: Key, value: unknown, options: SetOptions, implicit: Uint8Array[]): boolean {
    const tokens = this.envelopes.tokensSync([...(implicit as NamespacedKey[]), ...tagKeys(options.tags)]);
    const stored = this.core.requestSync((req) => this.envelopes.write(req, key, value, options, tokens)) as boolean;
    if (this.core.events.listening && stored) this.emitKey('set', key);
    return stored;
  }

  /** Many pairs pipelined through the window as one batch (enveloped ones each on its own). */
  async setMany(entries: Iterable<readonly [Key, unknown]>, options?: SetOptions): Promise<void> {
    const core = this.core;
    core.usable();
    if (enveloped(options)) {
      await Promise.all([...entries].map(([k, v]) => this.setEnveloped(k, v, options!, [])));
      return;
    }
    const reqs = [...entries].map(([k, v]) => core.req.set(k, v, options));
    await core.enqueueBatch(reqs);
  }

  async deleteByTag(tags: readonly string[]): Promise<void> {
    this.core.usable();
    await this.envelopes.invalidate(tagKeys(tags));
  }

  deleteByTagSync(tags: readonly string[]): void {
    this.core.usable();
    this.envelopes.invalidateSync(tagKeys(tags));
  }

  // Events as plain literals, one shape each (see reads.ts's emitRead).
  private emitKey(name: 'set' | 'delete', key: Key, deleted = true): void {
    const ev = this.core.events;
    if (key instanceof NamespacedKey) {
      if (name === 'set') ev.emit('set', { key: key.userKey, namespace: key.namespace });
      else ev.emit('delete', { key: key.userKey, namespace: key.namespace, deleted });
    } else if (name === 'set') ev.emit('set', { key });
    else ev.emit('delete', { key, deleted });
  }
}
