/**
 * Direct reads (clients reading the shared table under its seqlock, no
 * server thread): no torn value across processes while writers hammer the
 * same keys, and (with reconnect: false) a server that died or stopped is
 * noticed by a reader. Riding through a restart: test/faults/ride-through.test.ts and pause.test.ts.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Proc, Scope, SERVER_JS } from '../fixtures/faults/harness';
import type { HammerOptions, ReaderFigures } from '../fixtures/faults/hammer-client';
import { connect } from '../../src/client/client';
import { HEARTBEAT_TIMEOUT_MS } from '../../src/layout/region-header';
import { ServerGoneError } from '../../src/errors';

/**
 * A server whose data file lives in the test's temp dir, not /dev/shm: a
 * SIGKILLed server cannot remove its data file, and nothing else would.
 */
async function startServer(scope: Scope, region: string, args: string[] = []): Promise<Proc> {
  const s = scope.node(SERVER_JS, ['-p', region, ...args], 'server', { env: { ...process.env, SHMKV_DATA_DIR: scope.dir } });
  await s.waitFor(/server: ready/, 20000);
  return s;
}

/** The last line of a process's stdout, parsed. */
function figures<T>(p: Proc): T {
  const line = p.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`${p.label}: no figures\n${p.output()}`);
  }
}

test('torn-read hammer: 2 writer and 2 reader processes on 3 string keys, values 16 B..200 KiB, strings and Buffers: every value read is whole', { timeout: 240000 }, async (t) => {
  const scope = new Scope('shmkv-hammer-');
  t.after(() => scope.cleanup());
  const region = scope.file('region');
  const server = await startServer(scope, region, ['-n', '2']);
  const keys = ['hammer-alpha', 'hammer-\u03b2\u00e9ta', 'hammer-gamma'];
  const stopKey = 'hammer-stop';
  const reads = 20000;
  const spawn = (o: Omit<HammerOptions, 'path' | 'keys'>, label: string): Proc =>
    scope.fixture('hammer-client', [JSON.stringify({ path: region, keys, ...o })], label);
  // The writers set every key once before "ready", so readers always find one.
  const writers = [1, 2].map((i) => spawn({ role: 'writer', stopKey, maxMs: 180000, seed: i }, `writer ${i}`));
  await Promise.all(writers.map((w) => w.waitFor(/^ready$/m, 60000)));
  const readers = [1, 2].map((i) => spawn({ role: 'reader', reads }, `reader ${i}`));
  await Promise.all(readers.map((r) => r.waitFor(/^ready$/m, 60000)));
  for (const w of writers) w.child.stdin!.write('go\n');
  for (const r of readers) r.child.stdin!.write('go\n');
  const readerExits = await Promise.all(readers.map((r) => r.wait(180000)));
  // Stop the writers through the store itself (they poll the key).
  const kv = connect({ path: region });
  kv.setSync(stopKey, 1);
  await kv.close();
  const writerExits = await Promise.all(writers.map((w) => w.wait(60000)));
  [...readerExits, ...writerExits].forEach((e, i) => {
    const p = [...readers, ...writers][i];
    assert.equal(e.code, 0, `${p.label} failed\n${p.output()}`);
  });
  const rf = readers.map((r) => figures<ReaderFigures>(r));
  const writes = writers.map((w) => figures<{ writes: number }>(w).writes);
  const sum = (f: (x: ReaderFigures) => number): number => rf.reduce((a, x) => a + f(x), 0);
  t.diagnostic(
    `${sum((x) => x.reads)} reads, ${sum((x) => x.found)} found a value, ${sum((x) => x.bad)} bad; ` +
      `${sum((x) => x.small)} values <= 1 KiB, ${sum((x) => x.large)} larger, ${sum((x) => x.buffers)} Buffers; ` +
      `${rf.map((x) => x.versions).join(' + ')} distinct versions seen in ${rf.map((x) => x.ms).join(' + ')} ms; writers wrote ${writes.join(' + ')} values`,
  );
  for (const [i, f] of rf.entries()) {
    assert.equal(f.reads, reads);
    assert.equal(f.bad, 0, `reader ${i + 1} read ${f.bad} bad value(s):\n${f.samples.join('\n')}`);
    assert.ok(f.found > reads / 2, `reader ${i + 1} found only ${f.found} of ${reads}`);
    // The values must have changed under the reader, in both size classes
    // and both types, or the run hammered nothing.
    assert.ok(f.versions > 1, `reader ${i + 1} saw ${f.versions} version(s)`);
    assert.ok(f.small > 0 && f.large > 0 && f.buffers > 0 && f.buffers < f.found, `reader ${i + 1}: ${JSON.stringify(f)}`);
  }
  assert.ok(writes.every((w) => w > 0), 'a writer wrote nothing');
  assert.equal(server.running, true, 'the server died');
  server.kill('SIGTERM');
  assert.equal((await server.wait(10000)).code, 0, server.output());
});

test('reconnect: false: a direct read after the server was SIGKILLed throws ServerGoneError (tight read loop), and so do later calls', { timeout: 60000 }, async (t) => {
  const scope = new Scope('shmkv-direct-kill-');
  t.after(() => scope.cleanup());
  const region = scope.file('region');
  const server = await startServer(scope, region);
  const kv = connect({ path: region, reconnect: false });
  kv.setSync('k', 'v');
  kv.setSync(7, 7);
  assert.equal(kv.getSync('k'), 'v');
  server.kill('SIGKILL');
  await server.exited; // reaped: a zombie would still answer a pid probe
  // The bound: the heartbeat timeout, plus slack for a loaded machine.
  const bound = HEARTBEAT_TIMEOUT_MS + 5000;
  const started = Date.now();
  let error: unknown = null;
  let stale = 0;
  while (Date.now() - started < bound) {
    try {
      kv.getSync('k');
      stale++;
    } catch (e) {
      error = e;
      break;
    }
    // Let the event loop breathe now and then; still a tight loop.
    if (stale % 256 === 255) await new Promise((r) => setImmediate(r));
  }
  const ms = Date.now() - started;
  t.diagnostic(`ServerGoneError after ${ms} ms and ${stale} reads answered from the dead server's table`);
  assert.ok(error instanceof ServerGoneError, `no ServerGoneError within ${bound} ms (${stale} reads answered); got ${String(error)}`);
  assert.match(error.message, /died|not responding/);
  // Once gone, gone: every later call on the client throws, reads included.
  for (let i = 0; i < 2000; i++) assert.throws(() => kv.getSync('k'), ServerGoneError, `later getSync #${i} answered`);
  assert.throws(() => kv.hasSync(7), ServerGoneError);
  assert.throws(() => kv.setSync('k', 'w'), ServerGoneError);
  await assert.rejects(Promise.resolve().then(() => kv.get(7)), ServerGoneError);
});

test('reconnect: false: a direct read after SIGTERM (server STOPPED) throws ServerGoneError at once', { timeout: 60000 }, async (t) => {
  const scope = new Scope('shmkv-direct-term-');
  t.after(() => scope.cleanup());
  const region = scope.file('region');
  const server = await startServer(scope, region, ['-n', '2']);
  const kv = connect({ path: region, reconnect: false });
  kv.setSync('k', 'v');
  for (let i = 0; i < 5000; i++) assert.equal(kv.getSync('k'), 'v'); // a busy reader, mid-count
  server.kill('SIGTERM');
  assert.equal((await server.wait(10000)).code, 0, server.output());
  // The region file is gone, but the client still maps it and sees STOPPED.
  assert.throws(() => kv.getSync('k'), (e: Error) => e instanceof ServerGoneError && /has stopped/.test(e.message));
  assert.throws(() => kv.hasSync('k'), ServerGoneError);
  await assert.rejects(Promise.resolve().then(() => kv.get('k')), ServerGoneError);
});

// Reads paced by timers (the event loop turns between them) are bounded by
// the client's coarse clock, not by a count of reads (connection.ts).
test('reconnect: false: a direct read at ~200 reads/s after the server was SIGKILLed throws within the heartbeat timeout + 2 s', { timeout: 60000 }, async (t) => {
  const scope = new Scope('shmkv-direct-paced-');
  t.after(() => scope.cleanup());
  const region = scope.file('region');
  const server = await startServer(scope, region);
  const kv = connect({ path: region, reconnect: false });
  kv.setSync('k', 'v');
  // Read at the pace for a while first, as a steady client would.
  const pace = (): Promise<void> => new Promise((r) => setTimeout(r, 5));
  for (let i = 0; i < 100; i++, await pace()) kv.getSync('k');
  // A short burst right before the kill, as a client's reads come: the
  // reads that see the same heartbeat add up toward the next probe, so the
  // reads after the kill start that count part way, not at a probe.
  for (let i = 0; i < 16; i++) kv.getSync('k');
  server.kill('SIGKILL');
  await server.exited;
  const bound = HEARTBEAT_TIMEOUT_MS + 2000;
  const started = Date.now();
  let stale = 0;
  let error: unknown = null;
  for (; Date.now() - started < bound; stale++, await pace()) {
    try {
      kv.getSync('k');
    } catch (e) {
      error = e;
      break;
    }
  }
  t.diagnostic(`${error ? 'ServerGoneError' : 'no error'} after ${Date.now() - started} ms, ${stale} reads answered from the dead server's table`);
  assert.ok(error instanceof ServerGoneError, `${stale} reads answered over ${bound} ms after the server died`);
});
