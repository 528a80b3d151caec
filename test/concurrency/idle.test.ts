/**
 * Idle server workers (server/idle.ts) in real worker threads: at most one
 * holds the spinner role while the others sleep on the bench, every item
 * published one at a time or in a burst is taken, and a stop wakes benched
 * workers at once (their bench sleep is 60 s here, so a missed wake-up
 * would blow the bound).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Worker } from 'node:worker_threads';
import { runWorker, terminateAll } from '../fixtures/unit/harness';
import { EventCount } from '../../src/sync/waiter';
import { IdleWorkers } from '../../src/server/idle';
import { CONTROL_BENCH_SLEEPERS, CONTROL_SPINNER, CONTROL_STOP, CONTROL_WORDS } from '../../src/layout/server-private';

const [SEQ, FLAG, QUEUED, TAKEN] = [0, 1, 2, 3];

/** Poll `cond` every few ms until it holds, or fail after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

test('idle workers: one spinner, the rest benched; items one at a time and in bursts are all taken; stop wakes the bench', { timeout: 120_000 }, async (t) => {
  const workers = 3;
  const controlSab = new SharedArrayBuffer(CONTROL_WORDS * 4);
  const itemsSab = new SharedArrayBuffer(4 * 4);
  const control = new Int32Array(controlSab);
  const items = new Int32Array(itemsSab);
  const notEmpty = new EventCount(items, SEQ, FLAG);
  const track: Worker[] = [];
  t.after(() => terminateAll(track));
  const policy = { spins: 200, yields: 0, sleepMs: 60_000 };
  const done = Array.from({ length: workers }, (_, index) =>
    runWorker<{ took: number }>('idle-worker', { control: controlSab, items: itemsSab, index, policy }, track),
  );

  // Idle: one worker holds the role, the others sleep on the bench.
  await until(() => Atomics.load(control, CONTROL_BENCH_SLEEPERS) === workers - 1, 20_000, `${workers - 1} workers benched`);
  const spinner = Atomics.load(control, CONTROL_SPINNER);
  assert.ok(spinner >= 1 && spinner <= workers, `spinner word ${spinner}`);

  // One at a time: each item is taken before the next is published.
  let published = 0;
  for (let i = 0; i < 500; i++) {
    Atomics.add(items, QUEUED, 1);
    notEmpty.notify();
    published++;
    if (Atomics.load(items, TAKEN) !== published) await until(() => Atomics.load(items, TAKEN) === published, 20_000, `item ${published} taken`);
  }
  // Bursts: many items at once, then one more after the pool went idle again.
  for (let burst = 0; burst < 5; burst++) {
    Atomics.add(items, QUEUED, 2000);
    notEmpty.notify();
    published += 2000;
    await until(() => Atomics.load(items, TAKEN) === published, 60_000, `burst ${burst} taken (${Atomics.load(items, TAKEN)} of ${published})`);
    await until(() => Atomics.load(control, CONTROL_BENCH_SLEEPERS) === workers - 1, 20_000, 'the pool idle again');
  }
  assert.equal(Atomics.load(items, QUEUED), 0);

  // Stop, as the server does: the stop word, the event count, the bench.
  const stopAt = Date.now();
  Atomics.store(control, CONTROL_STOP, 1);
  notEmpty.notifyAll();
  IdleWorkers.wakeAll(control);
  const took = await Promise.all(done);
  const ms = Date.now() - stopAt;
  t.diagnostic(`items taken per worker: ${took.map((r) => r.took).join(', ')}; stopped in ${ms} ms`);
  assert.ok(ms < 20_000, `the pool took ${ms} ms to stop (bench sleeps are 60 s: a wake-up was missed)`);
  assert.equal(took.reduce((a, r) => a + r.took, 0), published, 'every item taken exactly once');
  assert.equal(Atomics.load(control, CONTROL_BENCH_SLEEPERS), 0);
});
