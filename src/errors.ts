/**
 * Every error the library throws on purpose, in one module that imports
 * nothing, so that any layer can throw them and users can import them all
 * from the package. Each message is one line and the whole story: the CLIs
 * print it as it is.
 */

/** A user-facing problem with a region file: the message is the whole story. */
export class RegionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegionError';
  }
}

/** A user-facing start-up failure (another server, foreign file, bad option). */
export class ServerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerError';
  }
}

/** The server stopped or died while this client depended on it. */
export class ServerGoneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerGoneError';
  }
}

/**
 * A write that a server took and then stopped answering (it died, was
 * replaced, or stayed paused past reconnectMs): it may or may not have been
 * applied. A ServerGoneError, so code that treats both alike needs nothing
 * new; a plain ServerGoneError (not this one) means the write did not run.
 */
export class OutcomeUnknownError extends ServerGoneError {
  constructor(reason: string) {
    super(`${reason}: the write may or may not have been applied`);
    this.name = 'OutcomeUnknownError';
  }
}

/** A write refused because the server's table is at its memory cap. */
export class TableFullError extends Error {
  constructor(what: string) {
    super(`${what} refused: the server's table is at its memory cap`);
    this.name = 'TableFullError';
  }
}

/** Shared memory of the table does not hold what the server wrote there. */
export class TableCorruptError extends Error {
  constructor(what: string) {
    super(`the table's shared memory is corrupt (${what}): was the data file written by another program?`);
    this.name = 'TableCorruptError';
  }
}

export class BoardFullError extends Error {
  constructor(wanted: number, total: number) {
    super(`the server's board has no ${wanted} free consecutive windows (${total} in all): raise the server's -c capacity or use fewer threads or a smaller window`);
    this.name = 'BoardFullError';
  }
}

/** lock(deadline) gave up: the holder kept the lock for the whole wait. */
export class LockTimeoutError extends Error {
  constructor(readonly holder: number, waitedMs: number) {
    super(`a lock has been held by pid ${holder} for over ${waitedMs} ms (is that process stopped?)`);
    this.name = 'LockTimeoutError';
  }
}

/** Thrown when writers keep one segment busy for PATIENCE_MS (or the caller's patience). */
export class ScanContendedError extends Error {
  constructor(segment: number) {
    super(`scan: segment ${segment} kept changing; try again`);
    this.name = 'ScanContendedError';
  }
}

/** Decoding failed: the bytes are not a value of that encoding. */
export class CodecError extends Error {
  constructor(readonly encoding: string, message: string, options?: { cause?: unknown }) {
    super(`${encoding} codec: ${message}`, options);
    this.name = 'CodecError';
  }
}

/** The error of a loader that failed in another process (its name and message). */
export class FetchError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name === 'Error' ? 'FetchError' : name;
  }
}

/** fetch() waited `ms` (its `timeout.hard`) without a value to give; the load goes on in the background. */
export class FetchTimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`fetch: no value within the hard timeout of ${ms} ms (the load goes on in the background)`);
    this.name = 'FetchTimeoutError';
  }
}

/**
 * The native addon cannot be found or loaded for this Node and platform.
 * Its stack is its message alone: thrown while `require('shmkv')` runs, it
 * is the whole story (the version, the platform, what to do), and frames of
 * the module loader would only bury it.
 */
export class AddonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AddonError';
    this.stack = `${this.name}: ${message}`;
  }
}

/** A snapshot file that cannot be read back as written (store/snapshot.ts): the message is one line. */
export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}
