/**
 * shmkv: a key-value store shared by the processes of one machine through
 * shared memory. This is the package's public surface.
 */
export { connect, Client, ClientOptions, SetOptions, Stats, TableFullError, DEFAULT_CLIENT_WINDOW } from './client/client';
export { FetchError, FetchOptions } from './client/fetch';
export { Key } from './store/keys';
export { TableCorruptError } from './store/alloc';
export { Encoding, DEFAULT_ENCODING, CodecError } from './codec/structured';
export { Connection, ConnectOptions, ServerGoneError } from './client/connection';
export { Lane } from './client/lane';
export { Server, ServerOptions, ServerError } from './server/server';
export { RegionError, DEFAULT_REGION_PATH } from './layout/region';
export { BoardFullError, BoardLockedError } from './store/board';
export { Op, Status, REGION_VERSION, DEFAULT_MAX_KEY_BYTES, DEFAULT_MAX_VALUE_BYTES } from './layout/layout';
export { WaitPolicy, DEFAULT_WAIT_POLICY } from './sync/waiter';
