/**
 * shmkv: a key-value store shared by the processes of one machine through
 * shared memory. This is the package's public surface, and only that: what
 * the README documents. Internals (windows, lanes, the ring's ops) are not
 * exported, so they can change without breaking users.
 */
export { connect, Client, ClientOptions, SetOptions, GetOptions, Stats, DEFAULT_CLIENT_WINDOW } from './client/client';
export { Namespace } from './client/namespace';
export { ClientEvents, EventName } from './client/events';
export { FetchOptions } from './client/fetch-options';
export { ConnectOptions, DEFAULT_RECONNECT_MS } from './client/connection';
export { StartOptions } from './client/start';
export { Key } from './store/keys';
export { Encoding, DEFAULT_ENCODING } from './codec/structured';
export { Server } from './server/server';
export { ServerOptions } from './server/server-options';
export { DEFAULT_REGION_PATH } from './layout/region';
export { DEFAULT_MAX_KEY_BYTES, DEFAULT_MAX_VALUE_BYTES } from './layout/keys-values';
export { REGION_VERSION } from './layout/region-header';
export { WaitPolicy, DEFAULT_WAIT_POLICY } from './sync/waiter';
export {
  RegionError,
  ServerError,
  ServerGoneError,
  OutcomeUnknownError,
  TableFullError,
  TableCorruptError,
  BoardFullError,
  LockTimeoutError,
  ScanContendedError,
  CodecError,
  FetchError,
  FetchTimeoutError,
} from './errors';
