/**
 * Lock and EventCount across real processes and worker threads sharing a
 * mapped file: mutual exclusion under contention, takeover from a holder
 * killed inside its critical section, and no lost wake-ups on the futex
 * sleep path (sleeps are unbounded there, so a lost wake-up hangs the
 * child and the test fails on its timeout instead of merely slowing down).
 */
import { test, TestContext } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { futexWake, mapFile, MAP_CREATE } from '../../src/native/shim';
import { Lock, LOCK_WORDS, processAlive } from '../../src/sync/lock';
import { DEFAULT_WAIT_POLICY, EventCount, pollBeforeSleep } from '../../src/sync/waiter';
import { runBody, serveBody, testEnv } from '../fixtures/unit/harness';

/** A bound on hangs only: spinning threads slow down 50x when the machine is oversubscribed. */
const T = { timeout: 600_000 };
/** Straight to the futex, never wake by timeout (JSON turns Infinity into null). */
const SLEEP_ONLY = { spins: 0, yields: 0, sleepMs: null };

const bodies: Record<string, () => void> = {};
const units: [string, string][] = [];
/** A single-threaded test whose body runs in a worker (a broken lock or wait would spin forever). */
function unitTest(title: string, key: string, body: () => void): void {
  bodies[key] = body;
  units.push([title, key]);
}

const regs: (() => void)[] = [];
/** A multi-process test, registered on the main thread only. */
function reg(title: string, opts: typeof T, fn: (t: TestContext) => Promise<void>): void {
  regs.push(() => test(title, opts, fn));
}

unitTest('Lock: tryLock/unlock/holder and token validation', 'lockBasics', () => {
  const i32 = new Int32Array(new SharedArrayBuffer(64));
  assert.equal(LOCK_WORDS, 2);
  assert.throws(() => new Lock(i32, 0, 0), RangeError);
  assert.throws(() => new Lock(i32, 0, 1.5), RangeError);
  assert.throws(() => new Lock(i32, 0, 2 ** 31), RangeError);
  const a = new Lock(i32, 4, 111);
  const b = new Lock(i32, 4, 222);
  const other = new Lock(i32, 6, 333);
  assert.equal(a.holder(), 0);
  assert.equal(a.tryLock(), true);
  assert.equal(a.holder(), 111);
  assert.equal(i32[4], 111, 'the owner word is the first of the pair');
  assert.equal(b.tryLock(), false);
  assert.equal(b.holder(), 111);
  assert.equal(other.tryLock(), true, 'a lock at another index is independent');
  a.unlock();
  assert.equal(b.holder(), 0);
  assert.equal(b.tryLock(), true);
  assert.equal(a.tryLock(), false);
  b.unlock();
  other.unlock();
  // lock() on a free lock does not wait; with the same token it is still exclusive.
  a.lock();
  assert.equal(new Lock(i32, 4, 111).tryLock(), false);
  a.unlock();
  assert.equal(i32[5], 0, 'no waiter left registered');
});

reg('processAlive: this process yes, bad pids no, a killed and reaped child no', T, async (t) => {
  assert.equal(processAlive(process.pid), true);
  assert.equal(processAlive(0), false);
  assert.equal(processAlive(-1), false);
  const { dir, kids } = testEnv(t, 'sync');
  const c = kids.spawn('lockfile-hold', { path: path.join(dir, 'l') });
  await c.next('locked');
  assert.equal(processAlive(c.pid), true);
  c.kill('SIGKILL');
  await c.exited; // Node has reaped it by the time 'exit' fires
  assert.equal(processAlive(c.pid), false);
});

unitTest('pollBeforeSleep polls exactly spins + yields times before giving up', 'pollBeforeSleep', () => {
  let polls = 0;
  assert.equal(
    pollBeforeSleep(() => (polls++, false), { spins: 7, yields: 3, sleepMs: 1 }),
    false,
  );
  assert.equal(polls, 10);
  polls = 0;
  assert.equal(pollBeforeSleep(() => ++polls === 9, { spins: 7, yields: 3, sleepMs: 1 }), true);
  assert.equal(polls, 9);
  polls = 0;
  assert.equal(pollBeforeSleep(() => (polls++, true), { spins: 0, yields: 0, sleepMs: 1 }), false);
  assert.equal(polls, 0, 'spins 0, yields 0: straight to sleep');
});

for (const [name, policy, iters] of [
  ['default policy', DEFAULT_WAIT_POLICY, 30_000],
  ['sleep path only (spins 0, yields 0, no timeout)', SLEEP_ONLY, 6_000],
] as const) {
  reg(`Lock: mutual exclusion, 2 processes x 2 workers, ${name}`, T, async (t) => {
    const { dir, kids } = testEnv(t, 'sync');
    const p = path.join(dir, 'lock');
    const i32 = new Int32Array(mapFile(p, 0, 4096, MAP_CREATE));
    const cfg = { path: p, workers: 2, iters, policy, lockIdx: 0, dataIdx: 32, readyIdx: 64, goIdx: 80 };
    const procs = [kids.spawn('lock-contend', cfg), kids.spawn('lock-contend', cfg)];
    while (Atomics.load(i32, cfg.readyIdx) < 4) {
      const dead = procs.find((c) => c.exit !== null);
      if (dead) await dead.ok();
      await new Promise((r) => setTimeout(r, 5));
    }
    Atomics.store(i32, cfg.goIdx, 1);
    futexWake(i32, cfg.goIdx, 0x7fffffff);
    const done = await Promise.all(procs.map((c) => c.next('done')));
    await Promise.all(procs.map((c) => c.ok()));
    assert.deepEqual(
      done.map((d) => d.bad),
      [0, 0],
      'a thread saw the two words unequal inside the critical section',
    );
    assert.equal(i32[cfg.dataIdx], 4 * iters);
    assert.equal(i32[cfg.dataIdx + 16], 4 * iters);
    assert.equal(Atomics.load(i32, cfg.lockIdx), 0, 'lock free at the end');
    assert.equal(Atomics.load(i32, cfg.lockIdx + 1), 0, 'no waiter left registered');
  });
}

reg('Lock: a waiter takes over from a holder SIGKILLed inside its critical section', T, async (t) => {
  const { dir, kids } = testEnv(t, 'sync');
  const p = path.join(dir, 'lock');
  const i32 = new Int32Array(mapFile(p, 0, 4096, MAP_CREATE));
  const cfg = { path: p, lockIdx: 16, dataIdx: 48 };
  const holder = kids.spawn('lock-hold', cfg);
  const locked = await holder.next('locked');
  assert.equal(locked.holder, holder.pid);
  assert.equal(Atomics.load(i32, cfg.lockIdx), holder.pid);

  const waiter = kids.spawn('lock-wait', { ...cfg, policy: { spins: 0, yields: 0, sleepMs: 50 } });
  const tried = await waiter.next('try');
  assert.equal(tried.got, false, 'the lock must not be free while its holder lives');
  assert.equal(tried.holder, holder.pid);

  holder.kill('SIGKILL');
  assert.equal((await holder.exited).signal, 'SIGKILL');
  const acquired = await waiter.next('acquired');
  assert.equal(acquired.holder, waiter.pid, 'the waiter now owns the lock under its own token');
  assert.equal(acquired.data, holder.pid, "the dead holder's writes are visible to the new owner");
  const released = await waiter.next('released');
  assert.equal(released.holder, 0);
  await waiter.ok();
  // The lock is usable as normal afterwards.
  const l = new Lock(i32, cfg.lockIdx, process.pid, processAlive);
  assert.equal(l.tryLock(), true);
  l.unlock();
});

unitTest('EventCount: notify costs nothing without sleepers, bumps the sequence with one', 'eventCountBasics', () => {
  const i32 = new Int32Array(new SharedArrayBuffer(64));
  const ec = new EventCount(i32, 2, 3);
  ec.notify();
  assert.equal(i32[2], 0, 'no sleeper: sequence untouched');
  i32[3] = 1; // a registered sleeper
  ec.notify();
  assert.equal(i32[2], 1);
  assert.equal(i32[3], 0, 'the notifier clears the sleeper flag');
  ec.notify();
  assert.equal(i32[2], 1, 'flag cleared: the next notify costs nothing');
  i32[3] = 0;
  ec.notifyAll();
  assert.equal(i32[2], 2, 'notifyAll always bumps');
  // await: returns at once when the attempt succeeds; the attempt is retried
  // after every sleep, and onIdle runs after a sleep without success.
  let n = 0;
  let idles = 0;
  // Polls: 1 spin, 1 yield, then per round: one attempt before the sleep
  // and one after it; onIdle only after a round that failed both.
  ec.await(() => ++n >= 5, { spins: 1, yields: 1, sleepMs: 1 }, () => idles++);
  assert.equal(n, 5);
  assert.equal(idles, 1);
  assert.equal(i32[3], 1, 'a waiter that slept set the flag (a later notify clears it)');
  i32[3] = 0;
  // onIdle may throw to abandon the wait, and the waiter still unregisters.
  assert.throws(
    () =>
      ec.await(
        () => false,
        { spins: 0, yields: 0, sleepMs: 1 },
        () => {
          throw new Error('peer died');
        },
      ),
    /peer died/,
  );
  assert.equal(i32[3], 1, 'the flag stays set: a stale flag costs one needless wake, never a lost one');
});

reg('EventCount: no lost wake-up in a 2-process ping-pong on the sleep path', T, async (t) => {
  const { dir, kids } = testEnv(t, 'sync');
  const p = path.join(dir, 'ec');
  const i32 = new Int32Array(mapFile(p, 0, 4096, MAP_CREATE));
  const rounds = 10_000;
  const cfg = { path: p, rounds, policy: SLEEP_ONLY, seqIdx: 16, waitersIdx: 17, turnIdx: 32 };
  const even = kids.spawn('pingpong', { ...cfg, parity: 0 });
  const odd = kids.spawn('pingpong', { ...cfg, parity: 1 });
  const [de, dodd] = await Promise.all([even.next('done'), odd.next('done')]);
  await Promise.all([even.ok(), odd.ok()]);
  assert.equal(Atomics.load(i32, cfg.turnIdx), 2 * rounds);
  assert.ok(de.turn >= 2 * rounds - 1 && dodd.turn === 2 * rounds);
  assert.ok([0, 1].includes(Atomics.load(i32, cfg.waitersIdx)), 'the sleeper flag is a flag');
  // Every hand-over found the other side registered at least sometimes: the
  // sleep path really ran (with spins 0 and yields 0, it is the only path).
  assert.ok(Atomics.load(i32, cfg.seqIdx) > 0);
});

if (!serveBody(bodies)) {
  for (const [title, key] of units) test(title, T, () => runBody(__filename, key));
  for (const r of regs) r();
}
