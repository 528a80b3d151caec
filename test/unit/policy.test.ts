// The eviction-policy simulations of bench/studies/policy/ (issue 11's study): each
// policy on small traces worked out by hand, then against a deliberately
// naive model (plain arrays, written from the papers' prose) on random skewed
// traces, with the invariants checked at every step: size never exceeds the
// capacity, a hit happens exactly when the key was resident, and an accessed
// key is resident afterwards. Then the trace generators' shape and seeding.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { rng } from '../../src/workload/generate';
import { ClockHash } from '../../bench/studies/policy/clock-hash';
import { Policy } from '../../bench/studies/policy/list';
import { Clock, Lru, Sieve } from '../../bench/studies/policy/policies';
import { S3Fifo } from '../../bench/studies/policy/s3fifo';
import { scanTrace, shiftTrace, zipfTrace } from '../../bench/studies/policy/traces';

const pattern = (p: Policy, keys: number[]): string => keys.map((k) => (p.access(k) ? 'H' : 'M')).join('');
const resident = (p: Policy, keySpace: number): number[] => [...Array(keySpace).keys()].filter((k) => p.has(k));

test('LRU: textbook reference string (Silberschatz: 12 faults with 3 frames) and recency order', () => {
  const s = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1];
  const lru = new Lru(3, 8);
  assert.equal([...pattern(lru, s)].filter((c) => c === 'M').length, 12);
  assert.deepEqual(resident(lru, 8), [0, 1, 7]);
  // 1 is refreshed by its hit, so 4 evicts 2 (least recent), then 2 evicts 3.
  assert.equal(pattern(new Lru(3, 8), [1, 2, 3, 1, 4, 2, 1]), 'MMMHMMH');
});

// One trace separates the three single-queue policies: after 1 2 3, key 1 is
// hit; 4, 5, 2 then arrive. LRU and CLOCK both end up evicting 1 (LRU: it
// aged; CLOCK: its bit was spent on the first sweep), while SIEVE's hand,
// parked in the middle of the queue, evicts the new one-hit keys 4 and 3
// first and keeps 1.
test('SIEVE keeps a hit old key that LRU and CLOCK evict (quick demotion)', () => {
  const t = [1, 2, 3, 1, 4, 5, 2, 1];
  const sieve = new Sieve(3, 8);
  assert.equal(pattern(sieve, t), 'MMMHMMMH');
  assert.deepEqual(resident(sieve, 8), [1, 2, 5]);
  assert.equal(pattern(new Lru(3, 8), t), 'MMMHMMMM');
  const clock = new Clock(3, 8);
  assert.equal(pattern(clock, t), 'MMMHMMMM');
  assert.deepEqual(resident(clock, 8), [1, 2, 5]);
});

test('CLOCK: a referenced entry survives one sweep, then is evicted if not hit again', () => {
  const c = new Clock(2, 8);
  assert.equal(pattern(c, [1, 2, 1, 3]), 'MMHM'); // 1's bit is cleared, 2 goes
  assert.deepEqual(resident(c, 8), [1, 3]);
  assert.equal(pattern(c, [4]), 'M'); // hand at 1, bit clear: 1 goes
  assert.deepEqual(resident(c, 8), [3, 4]);
});

test('S3-FIFO: small queue, promotion, ghost hits into main, main reinsertion (worked by hand)', () => {
  // capacity 10: S = 1, M = 9, ghost = 9 keys.
  const s = new S3Fifo(10, 20);
  assert.equal(s.smallCapacity, 1);
  assert.equal(s.mainCapacity, 9);
  const fill = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(pattern(s, fill), 'MMMMMMMMMM'); // all in S (the cache is not full yet)
  // 1 hit twice; 11 evicts from S: 1 (freq 2) moves to M, 2 goes to the ghost.
  assert.equal(pattern(s, [1, 1, 11]), 'HHM');
  assert.ok(!s.has(2) && s.inGhost(2));
  // 2 and 3 come back from the ghost into M, each pushing the next S tail out.
  assert.equal(pattern(s, [2, 3, 1, 4, 12]), 'MMHMM');
  assert.ok(s.has(2) && !s.inGhost(2));
  // 5..10 come back from the ghost too; then M holds 10 (one over its 9).
  assert.equal(pattern(s, [5, 6, 7, 8, 9, 10]), 'MMMMMM');
  // 13 evicts from M: 1 (freq 1, from its hit in M) is reinserted with 0, 2 goes.
  assert.equal(pattern(s, [13, 2]), 'MM');
  assert.deepEqual(resident(s, 20), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual([...Array(20).keys()].filter((k) => s.inGhost(k)), [11, 12, 13]);
});

test('S3-FIFO: the move-to-main threshold (2 by default, 1 as a variant)', () => {
  for (const [t, survives] of [[2, false], [1, true]] as const) {
    const s = new S3Fifo(10, 20, t);
    pattern(s, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 11]); // 1 hit once
    assert.equal(s.has(1), survives, `threshold ${t}`);
    assert.equal(s.has(2), !survives, `threshold ${t}`);
  }
});

// ---- Naive models, from the algorithm descriptions ------------------------
interface Model {
  access(key: number): boolean;
}

function naiveLru(cap: number): Model {
  const q: number[] = []; // least recent first
  return {
    access(k) {
      const i = q.indexOf(k);
      if (i >= 0) q.splice(i, 1);
      else if (q.length === cap) q.shift();
      q.push(k);
      return i >= 0;
    },
  };
}

function naiveClock(cap: number): Model {
  const keys: number[] = [];
  const ref: boolean[] = [];
  let hand = 0;
  return {
    access(k) {
      const i = keys.indexOf(k);
      if (i >= 0) return (ref[i] = true);
      if (keys.length < cap) {
        keys.push(k);
        ref.push(false);
        return false;
      }
      while (ref[hand]) {
        ref[hand] = false;
        hand = (hand + 1) % cap;
      }
      keys[hand] = k;
      hand = (hand + 1) % cap;
      return false;
    },
  };
}

function naiveSieve(cap: number): Model {
  const q: number[] = []; // oldest (tail) first, newest (head) last
  const visited = new Set<number>();
  let hand: number | null = null; // an index into q
  return {
    access(k) {
      if (q.includes(k)) {
        visited.add(k);
        return true;
      }
      if (q.length === cap) {
        let i = hand ?? 0;
        while (visited.has(q[i])) {
          visited.delete(q[i]);
          i = (i + 1) % q.length;
        }
        q.splice(i, 1); // the victim's newer neighbour slides into index i
        hand = i < q.length ? i : null;
      }
      q.push(k);
      return false;
    },
  };
}

function naiveS3Fifo(cap: number, threshold: number, maxFreq = 3): Model {
  const sCap = Math.max(1, Math.floor(cap * 0.1));
  const mCap = Math.max(1, cap - sCap);
  const small: number[] = []; // oldest first
  const main: number[] = [];
  const freq = new Map<number, number>();
  const ghostLog: number[] = []; // every key ever evicted into the ghost, in order
  const clearedAt = new Map<number, number>(); // key -> ghostLog length when a ghost hit cleared it
  const inGhost = (k: number): boolean => {
    const i = ghostLog.lastIndexOf(k);
    return i >= 0 && i >= ghostLog.length - mCap && !((clearedAt.get(k) ?? -1) > i);
  };
  const evict = (): void => {
    if (main.length > mCap || small.length === 0) {
      for (;;) {
        const t = main.shift()!;
        const f = freq.get(t)!;
        if (f === 0) return void freq.delete(t);
        freq.set(t, f - 1);
        main.push(t);
      }
    }
    while (small.length > 0) {
      const t = small.shift()!;
      if (freq.get(t)! >= threshold) {
        freq.set(t, 0);
        main.push(t);
      } else {
        freq.delete(t);
        ghostLog.push(t);
        return;
      }
    }
  };
  return {
    access(k) {
      const f = freq.get(k);
      if (f !== undefined) {
        freq.set(k, Math.min(f + 1, maxFreq));
        return true;
      }
      while (small.length + main.length >= cap) evict();
      freq.set(k, 0);
      if (inGhost(k)) {
        clearedAt.set(k, ghostLog.length);
        main.push(k);
      } else small.push(k);
      return false;
    },
  };
}

/** CLOCK over a fixed random order of positions (same permutation as ClockHash's seed 1). */
function naiveClockHash(cap: number, keySpace: number): Model {
  const pos = [...Array(keySpace).keys()];
  const rand = rng(1);
  for (let i = keySpace - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [pos[i], pos[j]] = [pos[j], pos[i]];
  }
  const at = new Map<number, boolean>(); // resident position -> referenced
  let hand = 0;
  return {
    access(k) {
      const p = pos[k];
      if (at.has(p)) return at.set(p, true), true;
      if (at.size === cap) {
        for (;; hand = (hand + 1) % keySpace) {
          if (!at.has(hand)) continue;
          if (!at.get(hand)) break;
          at.set(hand, false);
        }
        at.delete(hand);
        hand = (hand + 1) % keySpace;
      }
      at.set(p, false);
      return false;
    },
  };
}

const CASES: { name: string; fast: (c: number, k: number) => Policy; naive: (c: number, k: number) => Model }[] = [
  { name: 'LRU', fast: (c, k) => new Lru(c, k), naive: (c) => naiveLru(c) },
  { name: 'CLOCK', fast: (c, k) => new Clock(c, k), naive: (c) => naiveClock(c) },
  { name: 'CLOCK-hash', fast: (c, k) => new ClockHash(c, k), naive: (c, k) => naiveClockHash(c, k) },
  { name: 'SIEVE', fast: (c, k) => new Sieve(c, k), naive: (c) => naiveSieve(c) },
  { name: 'S3-FIFO', fast: (c, k) => new S3Fifo(c, k), naive: (c) => naiveS3Fifo(c, 2) },
  { name: 'S3-FIFO(t=1)', fast: (c, k) => new S3Fifo(c, k, 1), naive: (c) => naiveS3Fifo(c, 1) },
  { name: 'S3-FIFO(1 bit)', fast: (c, k) => new S3Fifo(c, k, 1, 1), naive: (c) => naiveS3Fifo(c, 1, 1) },
];

for (const { name, fast, naive } of CASES) {
  test(`${name}: matches the naive model and keeps the invariants on random skewed traces`, () => {
    const keySpace = 60;
    for (const cap of [1, 2, 3, 7, 10, 20, 59, 60]) {
      for (const seed of [1, 2]) {
        const rand = rng(seed * 1000 + cap);
        const p = fast(cap, keySpace);
        const m = naive(cap, keySpace);
        for (let i = 0; i < 4000; i++) {
          // u^2 skews toward small keys; a run of fresh-ish keys every 500 acts as a scan.
          const k = i % 500 < 40 ? (i % keySpace) : Math.floor(keySpace * rand() ** 2);
          const was = p.has(k);
          const hit = p.access(k);
          const where = `cap ${cap} seed ${seed} step ${i} key ${k}`;
          assert.equal(hit, was, `hit iff resident: ${where}`);
          assert.equal(m.access(k), hit, `naive model disagrees: ${where}`);
          assert.ok(p.has(k), `resident after access: ${where}`);
          assert.ok(p.size <= cap, `size ${p.size} > capacity: ${where}`);
          if (i % 97 === 0) assert.equal(resident(p, keySpace).length, p.size, `size counts residents: ${where}`);
        }
        assert.equal(p.size, Math.min(cap, resident(p, keySpace).length));
      }
    }
  });

  test(`${name}: replay() counts the misses access() reports`, () => {
    const t = zipfTrace(500, 0.99, 20_000, 7);
    const a = fast(50, t.keySpace);
    let misses = 0;
    for (const k of t.keys) if (!a.access(k)) misses++;
    assert.equal(fast(50, t.keySpace).replay(t.keys, 0, t.keys.length), misses);
  });
}

test('trace generators: seeded, in range, and shaped as documented', () => {
  const z1 = zipfTrace(1000, 0.99, 50_000, 5);
  assert.deepEqual(z1.keys, zipfTrace(1000, 0.99, 50_000, 5).keys);
  assert.notDeepEqual(z1.keys, zipfTrace(1000, 0.99, 50_000, 6).keys);
  assert.ok(z1.keys.every((k) => k < z1.keySpace));
  // zipf 0.99 over 1000 keys: the hottest key gets ~1/H(1000, 0.99), about 13%.
  const counts = new Map<number, number>();
  for (const k of z1.keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  const top = Math.max(...counts.values()) / z1.keys.length;
  assert.ok(top > 0.11 && top < 0.15, `hottest key share ${top}`);

  const s = scanTrace(1000, 0.99, 80_000, 600, 200, 5);
  const scanned = s.keys.filter((k) => k >= 1000).length;
  assert.equal(scanned, 20_000); // 25%
  assert.equal(s.keySpace, 1000 + 20_000);
  assert.equal(new Set(s.keys.filter((k) => k >= 1000)).size, 20_000); // scan keys are never reused
  assert.equal(s.distinct, new Set(s.keys).size);

  const sh = shiftTrace(1000, 0.99, 40_000, 10_000, 5);
  const hottest = (from: number): number => {
    const c = new Map<number, number>();
    for (let i = from; i < from + 10_000; i++) c.set(sh.keys[i], (c.get(sh.keys[i]) ?? 0) + 1);
    return [...c.entries()].sort((a, b) => b[1] - a[1])[0][0];
  };
  assert.notEqual(hottest(0), hottest(10_000));
});
