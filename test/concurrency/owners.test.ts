/**
 * Window ownership without a lock (transport/owners.ts): worker threads
 * claim runs of windows by CAS on a small board of a real region file, as
 * many clients attaching at once do, while another thread plays the
 * reaper's temporary claims of free windows; no window may ever be held by
 * two of them at once. Then the single-thread cases: claims skip over taken
 * windows and undo partial runs, release and abandon only move one's own
 * words, collect takes dead and junk owners.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Region } from '../../src/layout/region';
import { Owners } from '../../src/transport/owners';
import { OWNER_ABANDONED, OWNER_QUARANTINED, WIN_STATE, WINDOW_BYTES, WindowState } from '../../src/layout/board';
import { BoardFullError } from '../../src/errors';
import { removeDir, tempDir } from '../fixtures/unit/harness';

const WORKER = path.join(__dirname, '..', 'fixtures', 'unit', 'owners-worker.js');

function board(dir: string, windowCount: number): { file: string; region: Region; owners: Owners } {
  const file = path.join(dir, 'region');
  const region = Region.create(file, { ringCapacity: 16, windowCount, windowBytes: WINDOW_BYTES }, 1);
  return { file, region, owners: new Owners(region) };
}

interface Result {
  rounds: number;
  clashes: number;
  full: number;
  first: string;
}

test('4 threads claiming and releasing runs of 1..6 windows on a 24-window board, beside the reaper\'s claims of free windows: never one window in two hands', { timeout: 600_000 }, async (t) => {
  const dir = tempDir('shmkv-owners-');
  t.after(() => removeDir(dir));
  const { file, owners } = board(dir, 24);
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const spawn = (role: 'client' | 'reaper', token: number): Promise<Result> =>
    new Promise((resolve, reject) => {
      const w = new Worker(WORKER, { workerData: { file, role, token, maxRun: 6, stop, seed: token * 7919 } });
      w.once('message', resolve);
      w.once('error', reject);
    });
  const runs = [spawn('client', 101), spawn('client', 102), spawn('client', 103), spawn('client', 104), spawn('reaper', 1)];
  // Long enough for millions of claims on an idle machine; the bound is time
  // because the race needs overlap, not a count.
  await new Promise((r) => setTimeout(r, 3000));
  Atomics.store(stop, 0, 1);
  const results = await Promise.all(runs);
  const claims = results.slice(0, 4).reduce((a, r) => a + r.rounds, 0);
  t.diagnostic(`${claims} claims (${results.slice(0, 4).reduce((a, r) => a + r.full, 0)} found no free run), ${results[4].rounds} reaper passes`);
  for (const r of results) assert.equal(r.clashes, 0, r.first);
  assert.ok(claims > 10_000, `only ${claims} claims: the threads barely overlapped`);
  assert.ok(results[4].rounds > 100, 'the reaper thread barely ran');
  assert.equal(owners.ownedCount(), 0, 'windows left owned');
});

test('claims: a run skips taken windows and undoes a partial claim; release and abandon move only the caller\'s words; collect takes dead and junk owners, not live ones', () => {
  const dir = tempDir('shmkv-owners-');
  try {
    const { region, owners } = board(dir, 8);
    const word = (w: number): Int32Array => region.i32.subarray((region.layout.ownerOffset >> 2) + w);
    const state = (w: number): number => Atomics.load(region.i32, (region.layout.boardOffset + w * WINDOW_BYTES + WIN_STATE) >> 2);
    const me = process.pid;
    const dead = 2_000_000_000; // past any pid_max: names no process
    // A window left DONE by an earlier owner comes back IDLE.
    Atomics.store(region.i32, (region.layout.boardOffset + 3 * WINDOW_BYTES + WIN_STATE) >> 2, WindowState.Done);
    word(2)[0] = dead; // taken (by a process that died)
    assert.equal(owners.reserve(2, me), 0);
    assert.equal(owners.reserve(3, me), 3, 'a run of 3 starts after the taken window 2');
    assert.equal(state(3), WindowState.Idle);
    assert.throws(() => owners.reserve(3, me), BoardFullError);
    assert.equal(owners.ownedBy(me), 5);
    owners.release(0, me + 1); // not the owner: nothing
    assert.equal(owners.ownerOf(0), me);
    owners.release(0, me);
    owners.abandon(1, me);
    assert.equal(owners.ownerOf(0), 0);
    assert.equal(owners.ownerOf(1), OWNER_ABANDONED);
    // collect: the abandoned window, the dead owner's, a junk word; not the
    // live process's windows 3..5.
    word(7)[0] = -7;
    const held = new Set<number>();
    const got = owners.collect((w) => held.has(w)).sort((a, b) => a - b);
    assert.deepEqual(got, [1, 2, 7]);
    for (const w of got) assert.equal(owners.ownerOf(w), OWNER_QUARANTINED);
    for (const w of [3, 4, 5]) assert.equal(owners.ownerOf(w), me);
    // A batch's own QUARANTINED words are left alone; a stray one is collected.
    for (const w of got) held.add(w);
    word(6)[0] = OWNER_QUARANTINED;
    assert.deepEqual(owners.collect((w) => held.has(w)), [6]);
    owners.freeQuarantined([...got, 6]);
    for (const w of [...got, 6]) assert.equal(owners.ownerOf(w), 0);
    for (const w of [3, 4, 5]) owners.release(w, me);
    assert.equal(owners.ownedCount(), 0);
  } finally {
    removeDir(dir);
  }
});
