/**
 * The linearizability checker (tools/lincheck.ts) on hand-made and
 * simulated histories, then on real concurrent histories recorded from two
 * multi-threaded client processes against one multi-threaded server.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { checkHistory, LinKey, LinOp, LinValue, summarize } from '../../tools/lincheck';
import { Scope, WAIT_MS } from '../fixtures/faults/harness';
import { crossProcessOverlaps, recordDirectRound, recordRound } from '../fixtures/faults/rounds';
import { bruteForce, injectResurrection, injectStaleRead, simulated } from '../support/lin-histories';
import type { DirectRole } from '../fixtures/faults/direct-history-client';
import { rng } from '../../src/workload/generate';

const put = (key: LinKey, value: LinValue, inv: number, comp: number | null, client?: string): LinOp => ({ key, op: 'put', value, invokeNs: inv, completeNs: comp, client });
const get = (key: LinKey, result: LinValue | null, inv: number, comp: number | null, client?: string): LinOp => ({ key, op: 'get', result, invokeNs: inv, completeNs: comp, client });
const del = (key: LinKey, result: boolean | undefined, inv: number, comp: number | null, client?: string): LinOp => ({ key, op: 'delete', result, invokeNs: inv, completeNs: comp, client });

test('lincheck accepts linearizable hand-made histories', { timeout: 120_000 }, () => {
  const ok = (h: LinOp[], why: string): void => {
    const r = checkHistory(h);
    assert.equal(r.ok, true, `${why}: ${r.failure?.description ?? summarize(r)}`);
  };
  ok([], 'empty history');
  ok([get(1, 0, 0, 10)], 'a get of a key never written returns 0');
  ok([put(1, 5, 0, 10), get(1, 5, 20, 30), put(1, 6, 40, 50), get(1, 6, 60, 70)], 'sequential');
  ok([put(1, 5, 0, 100), get(1, 0, 10, 20), get(1, 5, 30, 40)], 'reads during a put see old then new');
  ok([put(1, 5, 0, 100), put(1, 6, 10, 90), get(1, 5, 95, 120), get(1, 5, 130, 140)], 'overlapping puts may take effect in either order');
  ok([put(1, 5, 0, 10), put(1, 6, 20, 30), get(1, 6, 20, 40), get(1, 5, 5, 25)], 'a read overlapping the second put may see the first');
  ok([put(1, 5, 0, 10), get(1, 5, 10, 20)], 'equal timestamps count as overlapping');
  ok([put(1, 5, 0, 10), get(2, 0, 20, 30), put(2, 7, 40, 50), get(1, 5, 60, 70)], 'keys are independent registers');
  ok([put(1, 9, 0, null), get(1, 0, 10, 20), get(1, 9, 30, 40)], 'a pending put may take effect late');
  ok([put(1, 9, 0, null), get(1, 0, 10, 20), get(1, 0, 30, 40)], 'a pending put may never take effect');
  ok([put(1, 5, 0, 10), get(1, 77, 20, null)], 'a pending get constrains nothing');
  ok([put(1, 0, 0, 10), get(1, 0, 20, 30)], 'writing 0 reads back as 0');
  ok([put('a', 's1', 0, 10), del('a', true, 20, 30), get('a', null, 40, 50), put('a', 's2', 60, 70), get('a', 's2', 80, 90)], 'string key: put, delete, absent, put again');
  ok([put(7, 1, 0, 10), put('7', 'x', 0, 10), get(7, 1, 20, 30), get('7', 'x', 20, 30)], '7 and "7" are different keys');
  ok([put('a', 's1', 0, 10), del('a', true, 20, 60), get('a', 's1', 30, 40), get('a', null, 50, 70)], 'a read during a delete sees the value or absence');
  ok([del('a', false, 0, 10), put('a', 's1', 20, 30), del('a', undefined, 40, null), get('a', 's1', 50, 60), get('a', null, 70, 80)], 'a pending delete may take effect late');
  ok([put('a', 's1', 0, 50), del('a', true, 0, 50), del('a', false, 0, 50), get('a', null, 60, 70)], 'concurrent deletes: the one that found nothing goes before the put');
  ok([put('a', 's1', 0, 10), del('a', true, 20, 30), put('a', 's1', 40, 50), get('a', 's1', 60, 70)], 'a value written again after a delete');
});

test('lincheck rejects non-linearizable hand-made histories with a counterexample', { timeout: 600_000 }, () => {
  const bad = (h: LinOp[], key: LinKey, why: string, mention?: RegExp): void => {
    const r = checkHistory(h);
    assert.equal(r.ok, false, `${why}: accepted`);
    assert.equal(r.inconclusive, undefined, `${why}: inconclusive`);
    assert.ok(r.failure, why);
    assert.equal(r.failure.key, key, `${why}: wrong key in\n${r.failure.description}`);
    assert.match(r.failure.description, new RegExp(`^key ${typeof key === 'string' ? JSON.stringify(key) : key}: not linearizable`), why);
    if (mention) assert.match(r.failure.description, mention, `${why}:\n${r.failure.description}`);
  };
  bad([get(1, 5, 0, 10)], 1, 'a value nobody wrote', /get\(1\) -> 5/);
  bad([put(1, 5, 0, 10), get(1, 0, 20, 30)], 1, 'a lost write: absent after a completed put', /put\(1, 5\).*would overwrite absent, which get\(1\) -> 0/);
  bad([put(1, 5, 0, 10), put(1, 6, 20, 30), get(1, 5, 40, 50)], 1, 'a stale read', /put\(1, 6\).*would overwrite 5, which get\(1\) -> 5/);
  bad([put(1, 5, 0, 100), get(1, 5, 10, 20), get(1, 0, 30, 40)], 1, 'new-old inversion: a read after a read that saw the new value sees the old');
  bad([get(1, 5, 0, 30), put(1, 5, 40, 50)], 1, 'a read from the future');
  bad([put(1, 5, 0, 10), get(1, 5, 20, 30), put(2, 1, 0, 10), put(2, 2, 20, 30), get(2, 1, 40, 50)], 2, 'one bad key among good ones');
  bad([put(3, 5, 0, null), get(3, 5, 10, 20), get(3, 0, 30, 40)], 3, 'a pending put, once seen, cannot be unseen');
  bad([put(4, 5, 0, 10, 'A'), put(4, 6, 0, 10, 'B'), get(4, 5, 20, 30, 'C'), get(4, 6, 40, 50, 'C'), get(4, 5, 60, 70, 'D')], 4, 'overlapping puts flip-flop', /by [CD]/);
  bad([put('a', 's1', 0, 10), del('a', true, 20, 30), get('a', 's1', 40, 50)], 'a', 'a read after a completed delete sees the value', /would overwrite "s1", which get\("a"\) -> "s1"/);
  bad([put('a', 's1', 0, 10), del('a', false, 20, 30)], 'a', 'a delete after a completed put finds nothing', /delete\("a"\) -> false.*register holds "s1"/);
  bad([del('a', true, 0, 10)], 'a', 'a delete finds a value nobody wrote');
  bad([put('a', 's1', 0, 10), del('a', true, 20, 30), del('a', true, 40, 50)], 'a', 'two sequential deletes both find the value');
  bad([put(7, 1, 0, 10), get('7', 1, 20, 30)], '7', 'the number key 7 does not hold the string key "7"');
  bad([put('k', 7, 0, 10), get('k', '7', 20, 30)], 'k', 'the number 7 does not read back as the string "7"');
  bad([put('a', 's1', 0, 100), del('a', undefined, 0, null), get('a', null, 20, 30), get('a', 's1', 40, 50), get('a', null, 60, 70), get('a', 's1', 80, 90)], 'a', 'one pending delete cannot hide a value twice');
  assert.throws(() => checkHistory([put(1, 5, 10, 0)]), /before it is invoked/);
  assert.throws(() => checkHistory([del(1, 'yes' as unknown as boolean, 0, 10)]), /delete result must be a boolean/);
});

test('lincheck on simulated concurrent histories: accepts them, rejects an injected stale read', { timeout: 600_000 }, () => {
  for (const [seed, n, keys, width, deletes] of [
    [1, 2000, 4, 60],
    [2, 3000, 8, 200],
    [3, 1500, 1, 40],
    [4, 400, 1, 400],
    [5, 3000, 4, 100, 0.15],
    [6, 1500, 1, 120, 0.3],
  ]) {
    const h = simulated(seed, n, keys, width, undefined, deletes);
    const r = checkHistory(h);
    assert.equal(r.ok, true, `seed ${seed}: ${r.failure?.description ?? summarize(r)}`);
    const key = injectStaleRead(h);
    assert.notEqual(key, -1, 'no place to inject a stale read');
    const bad = checkHistory(h);
    assert.equal(bad.ok, false, `seed ${seed}: stale read on key ${key} accepted`);
    assert.equal(bad.inconclusive, undefined);
    assert.equal(bad.failure!.key, key);
    if (!deletes) continue;
    const h2 = simulated(seed, n, keys, width, undefined, deletes);
    const key2 = injectResurrection(h2);
    assert.notEqual(key2, -1, 'no place to inject a resurrected value');
    const bad2 = checkHistory(h2, { initial: null });
    assert.equal(bad2.ok, false, `seed ${seed}: a read of a deleted value on key ${String(key2)} accepted`);
    assert.equal(bad2.failure?.key, key2);
  }
});

test('lincheck agrees with brute-force enumeration on small random histories (puts, gets, deletes)', { timeout: 600_000 }, () => {
  let accepted = 0;
  let rejected = 0;
  let withDeletes = 0;
  for (let seed = 1; seed <= 900; seed++) {
    const rand = rng(seed);
    const n = 2 + Math.floor(rand() * 7);
    const uniqueValues = seed % 2 === 0;
    // A third of the histories use string keys and values (a string key
    // '1' and a number key 1 side by side: different registers).
    const strings = seed % 3 === 0;
    const h: LinOp[] = [];
    for (let i = 0; i < n; i++) {
      const inv = Math.floor(rand() * 20);
      const comp = rand() < 0.1 ? null : inv + Math.floor(rand() * 8);
      const key: LinKey = rand() < 0.8 ? 1 : strings ? '1' : 2;
      const val = (x: number): LinValue => (strings && key === '1' ? `v${x}` : x);
      const value = val(uniqueValues ? i + 1 : Math.floor(rand() * 3));
      const r = rand();
      if (r < 0.4) h.push(put(key, value, inv, comp));
      else if (r < 0.65) h.push(del(key, [true, false, undefined][Math.floor(rand() * 3)], inv, comp));
      else {
        const seen = Math.floor(rand() * (uniqueValues ? n + 1 : 3));
        h.push(get(key, seen === 0 ? (rand() < 0.5 ? null : 0) : val(seen), inv, comp));
      }
    }
    if (h.some((o) => o.op === 'delete')) withDeletes++;
    const want = bruteForce(h);
    const r = checkHistory(h);
    assert.equal(r.inconclusive, undefined, `seed ${seed}: inconclusive`);
    assert.equal(r.ok, want, `seed ${seed}: lincheck says ${summarize(r)}, enumeration says ${want}: ${JSON.stringify(h)}`);
    if (want) accepted++;
    else rejected++;
  }
  assert.ok(accepted > 50 && rejected > 50, `too one-sided: ${accepted} linearizable, ${rejected} not`);
  assert.ok(withDeletes > 300, `only ${withDeletes} histories with deletes`);
});

test('lincheck on simulated histories whose values repeat (no unique-value pruning)', { timeout: 1_800_000 }, () => {
  for (const seed of [11, 12]) {
    const h = simulated(seed, 600, 4, 40, (i) => (i % 5) + 1);
    const r = checkHistory(h);
    assert.equal(r.ok, true, `seed ${seed}: ${r.failure?.description ?? summarize(r)}`);
  }
  // put 1, put 2, then reads of 1 and 2 with only a put of 1 between them.
  const bad = checkHistory([put(1, 1, 0, 10), put(1, 2, 20, 30), get(1, 1, 40, 50), put(1, 1, 60, 70), get(1, 2, 80, 90)]);
  assert.equal(bad.ok, false, 'a read of 2 after 1 was written again');
  const good = checkHistory([put(1, 1, 0, 10), put(1, 2, 20, 30), put(1, 1, 20, 90), get(1, 2, 40, 50), get(1, 1, 80, 95)]);
  assert.equal(good.ok, true, good.failure?.description);
});

test('real concurrent histories (2 processes x threads x lanes, 3 server threads, 8 keys) are linearizable', { timeout: 1_800_000 }, async (t) => {
  const scope = new Scope('shmkv-lin-');
  t.after(() => scope.cleanup());
  const region = scope.file('region');
  const server = await scope.startServer(region, ['-n', '3', '-c', '256']);
  const configs = [
    { procs: 2, threads: 3, width: 4, ops: 1500, keys: 8, putPercent: 50 },
    { procs: 2, threads: 2, width: 16, ops: 1500, keys: 8, putPercent: 30 },
  ];
  let round = 0;
  for (const c of configs) {
    const what = `${c.procs} procs x ${c.threads} threads x window ${c.width}`;
    // On a busy machine one process may run its whole share before the
    // other is scheduled; such a round proves nothing, so record another
    // (every round is checked; only a concurrent one ends the loop).
    const ROUNDS = 10;
    let history: LinOp[] = [];
    let overlaps = 0;
    let r = checkHistory([]);
    for (let attempt = 0; attempt < ROUNDS && overlaps === 0; attempt++) {
      history = await recordRound(scope, { region, ...c, seed: 42 }, round++);
      assert.equal(history.length, c.procs * c.threads * c.ops, what);
      assert.equal(new Set(history.map((o) => o.key)).size, c.keys, what);
      r = checkHistory(history);
      assert.equal(r.ok, true, `${what}: ${r.failure?.description ?? summarize(r)}`);
      overlaps = crossProcessOverlaps(history, 1e9);
    }
    assert.ok(overlaps > 0, `${what}: in ${ROUNDS} rounds no two operations of different processes on one key overlapped: the history is not concurrent`);
    t.diagnostic(`${what}: ${summarize(r)}, ${overlaps} overlapping cross-process pairs`);
    // The same history with one read made stale must be rejected.
    const key = injectStaleRead(history);
    assert.notEqual(key, -1, 'no place to inject a stale read');
    const bad = checkHistory(history);
    assert.equal(bad.ok, false, `${what}: injected stale read on key ${key} accepted`);
    assert.equal(bad.failure?.key, key);
  }
  assert.equal(server.running, true, 'the server died');
  server.kill('SIGTERM');
  const e = await server.wait(WAIT_MS);
  assert.equal(e.code, 0, server.output());
});

/** A copy of a history (the injections modify operations in place). */
const copy = (h: LinOp[]): LinOp[] => h.map((o) => ({ ...o }));

const injections = [
  ['stale read', injectStaleRead],
  ['read of a deleted value', injectResurrection],
] as const;

/**
 * Why a recorded direct-read history shows too little to be worth checking
 * (a busy machine may run the readers before or after the writes), or null.
 * The readers must have seen the writers' values, of every type, under both
 * kinds of key, while other processes' operations overlapped theirs.
 */
function weakness(history: LinOp[]): string | null {
  if (crossProcessOverlaps(history, 1) === 0) return 'no two operations of different processes on one key overlapped';
  const gets = history.filter((o) => o.op === 'get');
  const found = gets.filter((o) => o.result !== null);
  if (found.length <= gets.length / 10) return `only ${found.length} of ${gets.length} reads found a value`;
  const kinds = new Set(found.map((o) => (typeof o.result === 'number' ? 'u32' : String(o.result).split(':')[0])));
  if (kinds.size !== 3) return `the reads found values of types ${[...kinds].join(', ')} only`;
  if (!found.some((o) => typeof o.key === 'number') || !found.some((o) => typeof o.key === 'string')) return 'reads found values under one kind of key only';
  if (!history.some((o) => o.op === 'delete' && o.result === true)) return 'no delete removed a value';
  for (const [what, inject] of injections) if (inject(copy(history)) === -1) return `no place to inject a ${what}`;
  return null;
}

for (const threads of [1, 2]) {
  test(`direct reads and ring writes of 4 client processes (string and u32 keys, deletes), ${threads} server thread(s): linearizable`, { timeout: 240000 }, async (t) => {
    const scope = new Scope('shmkv-lin-direct-');
    t.after(() => scope.cleanup());
    const region = scope.file('region');
    const server = await scope.startServer(region, ['-n', String(threads)]);
    const roles: DirectRole[] = ['reader-sync', 'reader-async', 'writer-sync', 'writer-async'];
    let history: LinOp[] = [];
    let r = checkHistory([]);
    let checkMs = 0;
    let problem: string | null = 'no round recorded';
    for (let round = 0; round < 4 && problem !== null; round++) {
      history = await recordDirectRound(scope, { region, roles, writerOps: 1500, readerOps: 8000, width: 4, seed: threads }, round);
      const started = process.hrtime.bigint();
      r = checkHistory(history, { initial: null });
      checkMs = Number(process.hrtime.bigint() - started) / 1e6;
      assert.equal(r.ok, true, `round ${round}: ${r.failure?.description ?? summarize(r)}`);
      problem = weakness(history);
      if (problem !== null) t.diagnostic(`round ${round} shows too little (${problem}): recording another`);
    }
    assert.equal(problem, null, 'in 4 rounds, no history showed enough');
    const gets = history.filter((o) => o.op === 'get');
    t.diagnostic(
      `${history.length} operations (${gets.length} direct reads, ${gets.filter((o) => o.result !== null).length} found a value, ` +
        `${history.filter((o) => o.op === 'delete' && o.result === true).length} deletes that removed one) on ${r.keys} keys; ` +
        `${summarize(r)} in ${checkMs.toFixed(0)} ms; ${crossProcessOverlaps(history, 1e9)} overlapping cross-process pairs`,
    );
    // Negative controls: the same history with one read made stale, or
    // with a read that sees a value a completed delete removed, is rejected.
    for (const [what, inject] of injections) {
      const bad = copy(history);
      const key = inject(bad);
      const rb = checkHistory(bad, { initial: null });
      assert.equal(rb.ok, false, `injected ${what} on key ${String(key)} accepted`);
      assert.equal(rb.inconclusive, undefined, `injected ${what}: inconclusive`);
      assert.equal(rb.failure?.key, key);
    }
    assert.equal(server.running, true, 'the server died');
    server.kill('SIGTERM');
    assert.equal((await server.wait(10000)).code, 0, server.output());
  });
}
