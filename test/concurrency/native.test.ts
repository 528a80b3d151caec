/**
 * The native addon through its typed shim: file mappings shared between
 * processes, process-shared futexes, flock-based file locks, and loading
 * inside worker threads. Every cross-process check uses a real child.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FutexResult, futexWait, futexWake, lockFile, mapFile, MAP_CREATE, unlockFile, yieldCpu } from '../../src/native/shim';
import { Child, removeDir, runWorker, tempDir, testEnv } from '../fixtures/unit/harness';

/** A bound on hangs only: spinning threads slow down 50x when the machine is oversubscribed. */
const T = { timeout: 600_000 };

/** Poll (yielding the event loop) until `cond` holds; fail if one of `kids` exits first. */
async function until(cond: () => boolean, ...kids: Child[]): Promise<void> {
  while (!cond()) {
    const gone = kids.find((c) => c.exit !== null);
    if (gone) throw new Error(`child ${gone.pid} exited (${gone.exit!.code ?? gone.exit!.signal}) first; stderr:\n${gone.stderr}`);
    await new Promise((r) => setImmediate(r));
  }
}

function assertErr(fn: () => unknown, code: string, p: string, syscall?: string): void {
  assert.throws(fn, (e: NodeJS.ErrnoException) => {
    assert.equal(e.code, code, `code of ${e.message}`);
    assert.equal(e.path, p, `path of ${e.message}`);
    if (syscall) assert.equal(e.syscall, syscall);
    assert.ok(e instanceof Error);
    return true;
  });
}

test('mapFile creates a 0600 file of the asked size, zero-filled', T, () => {
  const dir = tempDir('native');
  try {
    const p = path.join(dir, 'region');
    const sab = mapFile(p, 0, 10_000, MAP_CREATE);
    assert.ok(sab instanceof SharedArrayBuffer);
    assert.equal(sab.byteLength, 10_000);
    const st = fs.statSync(p);
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.size, 10_000);
    const u8 = new Uint8Array(sab);
    assert.ok(u8.every((b) => b === 0));
    // Writes go to the file itself (MAP_SHARED), not to a private copy.
    u8[0] = 0xab;
    u8[9_999] = 0xcd;
    const fd = fs.openSync(p, 'r');
    try {
      const buf = Buffer.alloc(10_000);
      fs.readSync(fd, buf, 0, 10_000, 0);
      assert.equal(buf[0], 0xab);
      assert.equal(buf[9_999], 0xcd);
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    removeDir(dir);
  }
});

test('mapFile with create extends a smaller file keeping its bytes, never shrinks a larger one', T, () => {
  const dir = tempDir('native');
  try {
    const p = path.join(dir, 'f');
    fs.writeFileSync(p, Buffer.from([1, 2, 3, 4]), { mode: 0o644 });
    const sab = mapFile(p, 0, 8192, MAP_CREATE);
    assert.deepEqual([...new Uint8Array(sab, 0, 5)], [1, 2, 3, 4, 0]);
    assert.equal(fs.statSync(p).size, 8192);
    // An existing file keeps its mode (create only sets the mode of new files).
    assert.equal(fs.statSync(p).mode & 0o777, 0o644);
    const small = mapFile(p, 0, 4096, MAP_CREATE);
    assert.equal(small.byteLength, 4096);
    assert.equal(fs.statSync(p).size, 8192);
    // The same file mapped twice in one process: one memory.
    new Int32Array(small)[10] = 77;
    assert.equal(Atomics.load(new Int32Array(sab), 10), 77);
  } finally {
    removeDir(dir);
  }
});

test('mapFile errors: ENOENT, EINVAL for bad sizes and short files, with code and path', T, () => {
  const dir = tempDir('native');
  try {
    const missing = path.join(dir, 'missing');
    assertErr(() => mapFile(missing, 0, 4096, 0), 'ENOENT', missing, 'open');
    assert.equal(fs.existsSync(missing), false, 'a failed map without create must not create the file');
    const inDir = path.join(dir, 'no', 'such', 'dir', 'f');
    assertErr(() => mapFile(inDir, 0, 4096, MAP_CREATE), 'ENOENT', inDir);

    const p = path.join(dir, 'f');
    for (const bad of [0, -1, -4096, 1.5, 4095.999, NaN, Infinity, -Infinity]) {
      assertErr(() => mapFile(p, 0, bad, MAP_CREATE), 'EINVAL', p);
    }
    assert.equal(fs.existsSync(p), false, 'a size error happens before the file is created');

    fs.writeFileSync(p, Buffer.alloc(100));
    assertErr(() => mapFile(p, 0, 4096, 0), 'EINVAL', p);
    assert.equal(fs.statSync(p).size, 100, 'a refused map leaves the file alone');
    assert.equal(mapFile(p, 0, 100, 0).byteLength, 100);
    assert.equal(mapFile(p, 0, 64, 0).byteLength, 64);

    // A directory cannot be opened read-write.
    assertErr(() => mapFile(dir, 0, 4096, 0), 'EISDIR', dir);
    // Wrong argument types are TypeErrors, not crashes.
    assert.throws(() => (mapFile as unknown as (...a: unknown[]) => unknown)(p, '4096', false), TypeError);
    assert.throws(() => (mapFile as unknown as (...a: unknown[]) => unknown)(p, 4096), TypeError);
  } finally {
    removeDir(dir);
  }
});

test('mapFile: EACCES on a file the caller may not open', T, async (t) => {
  const { dir, kids } = testEnv(t, 'native');
  const p = path.join(dir, 'secret');
  fs.writeFileSync(p, Buffer.alloc(4096));
  fs.chmodSync(p, 0o000);
  fs.chmodSync(dir, 0o755);
  if (process.getuid && process.getuid() !== 0) {
    assertErr(() => mapFile(p, 0, 4096, 0), 'EACCES', p, 'open');
    return;
  }
  // Root bypasses file permissions, so check from an unprivileged child.
  let child;
  try {
    child = kids.spawn('mapfile-try', { path: p, size: 4096, create: false }, { uid: 65534, gid: 65534 });
  } catch (e) {
    t.skip(`running as root and cannot spawn an unprivileged child (${(e as Error).message}): EACCES not testable`);
    return;
  }
  let r;
  try {
    r = await child.next('result');
  } catch (e) {
    t.skip(`running as root; the uid-65534 child could not run the fixture (${(e as Error).message.split('\n')[0]}): EACCES not testable`);
    return;
  }
  assert.equal(r.ok, false);
  assert.equal(r.code, 'EACCES');
  assert.equal(r.path, p);
  assert.equal(r.syscall, 'open');
  await child.ok();
});

test('a mapping is shared both ways with another process', T, async (t) => {
  const { dir, kids } = testEnv(t, 'native');
  const p = path.join(dir, 'region');
  const size = 65536;
  const i32 = new Int32Array(mapFile(p, 0, size, MAP_CREATE));
  i32[1] = 0x0c0ffee; // plain write before the child exists
  const child = kids.spawn('map-peer', { path: p, size });
  const saw = await child.next('saw');
  assert.equal(saw.value, 0x0c0ffee);
  // The child's plain write, published by its flag.
  await until(() => Atomics.load(i32, 3) === 1, child);
  assert.equal(i32[2], 0x0c0ffee + 1);
  // Writes made while both are mapped reach the child, at both ends of the file.
  i32[5] = -123456789;
  i32[(size >> 2) - 1] = 0x7eadbeef;
  Atomics.store(i32, 4, 1);
  futexWake(i32, 4, 1);
  const late = await child.next('saw-late');
  assert.equal(late.value, -123456789);
  assert.equal(late.last, 0x7eadbeef);
  await child.ok();
});

test('Atomics.add is exact across 2 processes x 2 worker threads x 100k', T, async (t) => {
  const { dir, kids } = testEnv(t, 'native');
  const p = path.join(dir, 'counter');
  const i32 = new Int32Array(mapFile(p, 0, 4096, MAP_CREATE));
  const cfg = { path: p, workers: 2, iters: 100_000, readyIdx: 16, goIdx: 32, counterIdx: 0 };
  const procs = [kids.spawn('atomics-add', cfg), kids.spawn('atomics-add', cfg)];
  // Start everyone at once so that the increments really contend.
  for (;;) {
    const ready = Atomics.load(i32, cfg.readyIdx);
    if (ready === 4) break;
    const exited = procs.find((c) => c.exit !== null);
    if (exited) await exited.ok();
    await new Promise((r) => setTimeout(r, 5));
  }
  Atomics.store(i32, cfg.goIdx, 1);
  futexWake(i32, cfg.goIdx, 0x7fffffff);
  await Promise.all(procs.map((c) => c.next('done')));
  await Promise.all(procs.map((c) => c.ok()));
  assert.equal(Atomics.load(i32, cfg.counterIdx), 2 * 2 * 100_000);
});

test('futexWait: NotEqual when the word differs, TimedOut after its timeout', T, () => {
  const dir = tempDir('native');
  try {
    const i32 = new Int32Array(mapFile(path.join(dir, 'f'), 0, 4096, MAP_CREATE));
    Atomics.store(i32, 7, 5);
    assert.equal(futexWait(i32, 7, 4, 10_000), FutexResult.NotEqual);
    assert.equal(futexWait(i32, 7, -5, 10_000), FutexResult.NotEqual);
    assert.equal(futexWait(i32, 7, 5, 0), FutexResult.TimedOut);
    assert.equal(futexWait(i32, 7, 5, 30), FutexResult.TimedOut);
    // Timeouts with a seconds part and a fraction are accepted.
    assert.equal(futexWait(i32, 7, 5, 1000.5), FutexResult.TimedOut);
    assert.equal(FutexResult.Woken, 0);
    assert.equal(FutexResult.NotEqual, 1);
    assert.equal(FutexResult.TimedOut, 2);
    // Nobody waits: nobody woken.
    assert.equal(futexWake(i32, 7, 1), 0);
    assert.equal(futexWake(i32, 7, 0x7fffffff), 0);
    // Bad arguments are TypeErrors.
    assert.throws(() => futexWait(i32, 1024, 0, 0), TypeError);
    assert.throws(() => futexWait(new Int32Array(4), 0, 0, 0), TypeError);
    assert.throws(() => futexWake(new Int32Array(new ArrayBuffer(16)), 0, 1), TypeError);
    assert.throws(() => futexWait(i32, -1, 0, 0), TypeError);
    yieldCpu();
  } finally {
    removeDir(dir);
  }
});

test('futexWake wakes sleepers of another process and returns how many it woke', T, async (t) => {
  const { dir, kids } = testEnv(t, 'native');
  const p = path.join(dir, 'futex');
  const i32 = new Int32Array(mapFile(p, 0, 4096, MAP_CREATE));
  const idx = 16;
  const readyIdx = 32;
  Atomics.store(i32, idx, 42);
  // Two sleepers in two processes, no timeout: only a wake can end them.
  const cfg = { path: p, idx, expected: 42, timeoutMs: null, readyIdx };
  const a = kids.spawn('futex-wait', cfg);
  const b = kids.spawn('futex-wait', cfg);
  await until(() => Atomics.load(i32, readyIdx) === 2, a, b);
  // A sleeper is only wakeable once it is queued in the kernel: keep
  // waking one at a time until both have been woken. The word never
  // changes, so neither can return NotEqual or leave by itself.
  let woken = 0;
  while (woken < 2) {
    const n = futexWake(i32, idx, 1);
    assert.ok(n === 0 || n === 1, `futexWake(count 1) woke ${n}`);
    woken += n;
    if (a.exit !== null && b.exit !== null) break;
    if (n === 0) await new Promise((r) => setTimeout(r, 2));
  }
  assert.equal(woken, 2);
  const ra = await a.next('result');
  const rb = await b.next('result');
  assert.equal(ra.result, FutexResult.Woken);
  assert.equal(rb.result, FutexResult.Woken);
  assert.equal(futexWake(i32, idx, 10), 0, 'nobody left to wake');
  await a.ok();
  await b.ok();
});

test('futexWait of another process returns NotEqual/TimedOut as in-process', T, async (t) => {
  const { dir, kids } = testEnv(t, 'native');
  const p = path.join(dir, 'futex');
  const i32 = new Int32Array(mapFile(p, 0, 4096, MAP_CREATE));
  Atomics.store(i32, 16, 9);
  const ne = kids.spawn('futex-wait', { path: p, idx: 16, expected: 8, timeoutMs: null, readyIdx: 32 });
  assert.equal((await ne.next('result')).result, FutexResult.NotEqual);
  const to = kids.spawn('futex-wait', { path: p, idx: 16, expected: 9, timeoutMs: 50, readyIdx: 33 });
  assert.equal((await to.next('result')).result, FutexResult.TimedOut);
  await ne.ok();
  await to.ok();
});

test('lockFile: exclusive across processes (EAGAIN), released by unlockFile and by the holder dying', T, async (t) => {
  const { dir, kids } = testEnv(t, 'native');
  const p = path.join(dir, 'server.lock');
  // We hold it: another process gets EAGAIN with code, syscall and path.
  const fd = lockFile(p);
  assert.equal(fs.statSync(p).mode & 0o777, 0o600);
  const t1 = kids.spawn('lockfile-try', { path: p });
  const r1 = await t1.next('result');
  assert.equal(r1.ok, false);
  assert.equal(r1.code, 'EAGAIN');
  assert.equal(r1.syscall, 'flock');
  assert.equal(r1.path, p);
  // flock locks belong to the open file: a second lockFile in this process conflicts too.
  assertErr(() => lockFile(p), 'EAGAIN', p, 'flock');
  unlockFile(fd);
  const t2 = kids.spawn('lockfile-try', { path: p });
  assert.equal((await t2.next('result')).ok, true);

  // Another process holds it: we get EAGAIN until it is SIGKILLed.
  const holder = kids.spawn('lockfile-hold', { path: p });
  await holder.next('locked');
  assertErr(() => lockFile(p), 'EAGAIN', p, 'flock');
  holder.kill('SIGKILL');
  const e = await holder.exited;
  assert.equal(e.signal, 'SIGKILL');
  const fd2 = lockFile(p);
  assert.ok(fd2 >= 0);
  unlockFile(fd2);
  assert.throws(() => unlockFile(fd2), (err: NodeJS.ErrnoException) => err.code === 'EBADF');
  await t1.ok();
  await t2.ok();
});

test('the addon loads and works inside worker threads', T, async () => {
  const dir = tempDir('native');
  try {
    const p = path.join(dir, 'f');
    const i32 = new Int32Array(mapFile(p, 0, 4096, MAP_CREATE));
    Atomics.store(i32, 0, 1234);
    const rs = await Promise.all([0, 1].map(() => runWorker('addon-in-worker', { path: p })));
    for (const r of rs) {
      assert.deepEqual(r.types, ['function', 'function', 'function', 'function']);
      assert.equal(r.seen, 1234);
      assert.equal(r.notEqual, FutexResult.NotEqual);
      assert.equal(r.woke, 0);
    }
    // Their writes went through their own mappings into the same file.
    assert.equal(Atomics.load(i32, 1), 1235);
  } finally {
    removeDir(dir);
  }
});
