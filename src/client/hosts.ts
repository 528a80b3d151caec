/**
 * The narrow objects a Client lends the modules it is made of, built over
 * its parts (client-core.ts, reads.ts, writes.ts, scans.ts) so that none of
 * those modules needs the Client class, and Client's public surface holds
 * only the API:
 * - ClientInternals: fetch.ts's FetchHost (fetch-host.ts), plus blocking
 *   requests and uncounted reads, for this package's own modules (the
 *   Bentocache adapter's machine token) and tests, through internals(kv);
 *   index.ts never exports it;
 * - NamespaceHost (namespace.ts): a namespace's reads, enveloped writes,
 *   fetch, invalidation and scan.
 */
import type { Key } from '../store/keys';
import type { ClientCore } from './client-core';
import type { TableReads } from './reads';
import type { Writes } from './writes';
import type { Fetcher } from './fetch';
import type { FetchHost } from './fetch-host';
import type { NamespaceHost } from './namespace';
import type { Pending, RequestBuilder } from './requests';
import { scanMaterials } from './scans';
import { rejecting } from './promises';

export interface ClientInternals extends FetchHost {
  requestSync(build: (req: RequestBuilder) => Pending): unknown;
  /** The value under `key`, counting and reporting nothing; leases and envelopes read as absent. */
  peek(key: Key): unknown;
}

/** Each client's internals, by client (a WeakMap: nothing on the client object itself). */
const lent = new WeakMap<object, ClientInternals>();

/** Build the internals of client `kv` over its parts, and lend them (internals()). */
export function lendInternals(kv: object, core: ClientCore, reads: TableReads): ClientInternals {
  const host: ClientInternals = {
    get maxKeyBytes() {
      return core.maxKeyBytes;
    },
    codec: core.codec,
    envelopes: reads.envelopes,
    events: core.events,
    direct: (key, copyBytes, allowStale) => reads.direct(key, copyBytes, allowStale),
    peekRaw: (key) => reads.peekRaw(key),
    get found() {
      return reads.found;
    },
    request: (build) => core.request(build),
    requestSync: (build) => core.requestSync(build),
    count: (stat) => core.count(stat),
    peek: (key) => reads.peek(key),
  };
  lent.set(kv, host);
  return host;
}

/** The internals of a client (see ClientInternals); a TypeError for anything else. */
export function internals(kv: object): ClientInternals {
  const i = lent.get(kv);
  if (i === undefined) throw new TypeError('not a shmkv Client');
  return i;
}

/** The API calls a namespace passes through to its client unchanged. */
export type NamespaceApi = Pick<NamespaceHost, 'getSync' | 'get' | 'ttlSync' | 'deleteSync' | 'delete' | 'deleteByTag'>;

export function namespaceHost(api: NamespaceApi, core: ClientCore, reads: TableReads, writes: Writes, fetcher: Fetcher): NamespaceHost {
  return {
    get maxKeyBytes() {
      return core.maxKeyBytes;
    },
    getSync: (key, o) => api.getSync(key, o),
    get: (key, o) => api.get(key, o),
    ttlSync: (key) => api.ttlSync(key),
    deleteSync: (key) => api.deleteSync(key),
    delete: (key) => api.delete(key),
    deleteByTag: (tags) => api.deleteByTag(tags),
    setEnveloped: (key, value, o, implicit) => writes.setEnveloped(key, value, o, implicit),
    setEnvelopedSync: (key, value, o, implicit) => writes.setEnvelopedSync(key, value, o, implicit),
    fetchWith: (key, loader, o, implicit) => rejecting(() => fetcher.fetch(key, loader, o, implicit)),
    invalidate: (keys) => reads.envelopes.invalidate(keys),
    invalidateSync: (keys) => reads.envelopes.invalidateSync(keys),
    materialsSync: () => scanMaterials(core),
    liveSync: (key) => reads.liveSync(key),
  };
}
