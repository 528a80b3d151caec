/**
 * The one seqlock reader (src/store/seqlock.ts) and the checks of its
 * lookup visitor (table-reader.ts), adversarially: every bound a word read
 * from the file must pass before it is used, and every retry path (odd
 * version, a version that moves during a visit, torn data under a stable
 * version, patience running out, a writer that finishes meanwhile). A read
 * never throws, never loops without bound, and answers Found only for a
 * consistent snapshot.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { BUSY, ReadResult, SegmentVisitor, Visit } from '../../src/store/seqlock';
import { Chunk } from '../../src/store/chunk';
import { Status } from '../../src/layout/board';
import { C_DIRECTORY, SEG_INDEX, SEG_VERSION } from '../../src/layout/chunk-directory';
import { ENTRY_HEADER_BYTES, ENTRY_KEY_LEN, ENTRY_TAG, ENTRY_VALUE_LEN, IX_BYTES, IX_ENTRY, IX_HASH, MAX_INDEX_LOG2 } from '../../src/layout/heap';
import { ValueTag } from '../../src/layout/keys-values';
import { memTable, MemTable } from '../support/table';

/** A one-segment table holding 'a' -> 'value of a', and the words of its index. */
function setup(): MemTable & { ch: Chunk; ver: number; word: number; index: number; slot: number; e: number } {
  const m = memTable(1 << 20, { segmentBits: 0, initialBuckets: 8 });
  m.enc.encode('a');
  const v = Buffer.from('value of a');
  assert.equal(m.t.set(m.enc.bytes, 0, m.enc.length, v, 0, v.length, ValueTag.String), Status.Ok);
  const ch = m.parts.chunks[0];
  const word = ch.indexWord(0);
  const index = word - (word & 63);
  let slot = -1;
  for (let i = 0; i < 1 << (word & 63); i++) if (ch.u32[(index + i * IX_BYTES + IX_ENTRY) >>> 2] > 1) slot = index + i * IX_BYTES;
  assert.ok(slot >= 0);
  return { ...m, ch, ver: (C_DIRECTORY + SEG_VERSION) >>> 2, word, index, slot, e: ch.u32[(slot + IX_ENTRY) >>> 2] };
}

function read(m: MemTable): ReadResult {
  m.enc.encode('a');
  return m.r.read(m.enc.bytes, m.enc.length, m.enc.hash);
}

test('seqlock: a plain read is Found, and records the version and chunk it validated', () => {
  const m = setup();
  assert.equal(read(m), ReadResult.Found);
  assert.equal(m.r.str, 'value of a');
  assert.equal(m.r.seqlock.version, Atomics.load(m.ch.i32, m.ver));
  assert.equal(m.r.seqlock.chunk, m.ch);
});

test('seqlock: index words that name no index inside the heap are torn, never followed (Corrupt once stable)', () => {
  const m = setup();
  const at = (C_DIRECTORY + SEG_INDEX) >>> 2;
  const log2 = m.word & 63;
  const bad = [
    m.index + 0, // capacity 1
    m.index + 1, // capacity 2
    m.index + MAX_INDEX_LOG2 + 1, // too large
    m.index + 63,
    64 + log2, // before the heap
    m.ch.heapEnd + log2, // past it
    m.ch.heapEnd - 64 + log2, // its slots run past the heap's end
    0xffffffc0 + log2,
  ];
  for (const w of bad) {
    m.ch.u32[at] = w;
    assert.equal(read(m), ReadResult.Corrupt, `index word ${w}`);
  }
  m.ch.u32[at] = m.word;
  assert.equal(read(m), ReadResult.Found);
});

test('seqlock: entry offsets and lengths out of bounds are torn: below the heap, past it, unaligned, lengths past its end, unknown tags', () => {
  const m = setup();
  const entry = (m.slot + IX_ENTRY) >>> 2;
  for (const e of [8, m.ch.heapStart - 8, m.ch.heapEnd, m.ch.heapEnd - 8, m.ch.lastEntry + 8, m.e + 4, m.e + 1, 0x7ffffff8, 0xfffffff8]) {
    m.ch.u32[entry] = e;
    assert.equal(read(m), ReadResult.Corrupt, `entry offset ${e}`);
  }
  m.ch.u32[entry] = m.e;
  const u32 = m.ch.u32;
  const keyLenWord = u32[(m.e + ENTRY_KEY_LEN) >>> 2];
  for (const valueLen of [m.ch.heapEnd, 0xffffffff, 2 ** 30, m.ch.heapEnd - m.e]) {
    u32[(m.e + ENTRY_VALUE_LEN) >>> 2] = valueLen;
    assert.equal(read(m), ReadResult.Corrupt, `value length ${valueLen}`);
  }
  u32[(m.e + ENTRY_VALUE_LEN) >>> 2] = 'value of a'.length;
  // A length under the value limit whose bytes still run past the heap's end: the entry moved to the heap's last bytes.
  const last = m.ch.lastEntry & ~7;
  m.ch.u8.copyWithin(last, m.e, m.e + ENTRY_HEADER_BYTES + m.enc.length);
  u32[(last + ENTRY_VALUE_LEN) >>> 2] = 100;
  assert.ok(100 <= m.r.maxValueBytes && last + ENTRY_HEADER_BYTES + m.enc.length + 100 > m.ch.heapEnd);
  m.ch.u32[entry] = last;
  assert.equal(read(m), ReadResult.Corrupt, 'a value running past the heap');
  m.ch.u32[entry] = m.e;
  for (const tag of [0, 99, 255]) {
    m.ch.u8[m.e + ENTRY_TAG] = tag;
    assert.equal(read(m), ReadResult.Corrupt, `tag ${tag}`);
  }
  // A fixed-size tag with another length: a u32 of 10 bytes.
  m.ch.u8[m.e + ENTRY_TAG] = ValueTag.U32;
  assert.equal(read(m), ReadResult.Corrupt);
  m.ch.u8[m.e + ENTRY_TAG] = ValueTag.String;
  // Another key length: this is not the key (probing goes on to the empty slot after it).
  u32[(m.e + ENTRY_KEY_LEN) >>> 2] = (keyLenWord & ~0xffff) | 0xffff;
  assert.equal(read(m), ReadResult.Absent);
  u32[(m.e + ENTRY_KEY_LEN) >>> 2] = keyLenWord;
  // A different key byte: not the key either.
  m.ch.u8[m.e + ENTRY_HEADER_BYTES + 1] ^= 1;
  assert.equal(read(m), ReadResult.Absent);
  m.ch.u8[m.e + ENTRY_HEADER_BYTES + 1] ^= 1;
  assert.equal(read(m), ReadResult.Found);
});

test('seqlock: a full index with no empty slot and no match ends after one pass (torn), never loops', () => {
  const m = setup();
  const cap = 1 << (m.word & 63);
  for (let i = 0; i < cap; i++) {
    const s = m.index + i * IX_BYTES;
    m.ch.u32[(s + IX_HASH) >>> 2] = 12345;
    m.ch.u32[(s + IX_ENTRY) >>> 2] = 1; // inline slots of another hash: skipped
  }
  assert.equal(read(m), ReadResult.Corrupt);
});

test('seqlock: an odd version is busy: bounded point reads give Contended, patient ones wait, then give up after their patience', () => {
  const m = setup();
  const v = Atomics.load(m.ch.i32, m.ver);
  Atomics.store(m.ch.i32, m.ver, v + 1);
  assert.equal(read(m), ReadResult.Contended);
  const never: SegmentVisitor = { visit: () => assert.fail('visited a segment inside a write') };
  assert.equal(m.r.seqlock.attempt(0, never), BUSY);
  const start = Date.now();
  assert.equal(m.r.seqlock.readPatiently(0, never, 100), ReadResult.Contended);
  assert.ok(Date.now() - start >= 100, 'it waited its patience');
  Atomics.store(m.ch.i32, m.ver, v);
  assert.equal(read(m), ReadResult.Found);
});

test('seqlock: a version that moves during the visit discards what the visitor saw (a writer raced it)', () => {
  const m = setup();
  let visits = 0;
  const racing: SegmentVisitor = {
    visit: (): Visit => {
      visits++;
      if (visits <= 3) Atomics.add(m.ch.i32, m.ver, 2); // a whole write, in and out, during this visit
      return Visit.Found;
    },
  };
  assert.equal(m.r.seqlock.attempt(0, racing), BUSY);
  assert.equal(m.r.seqlock.read(0, racing), ReadResult.Found, 'found once a visit saw no write');
  assert.equal(visits, 4);
});

test('seqlock: torn data under a stable version is Corrupt after three visits; torn data with a moving version is retried', () => {
  const m = setup();
  let visits = 0;
  const torn: SegmentVisitor = {
    visit: (): Visit => {
      visits++;
      return Visit.Torn;
    },
  };
  assert.equal(m.r.seqlock.read(0, torn), ReadResult.Corrupt);
  assert.equal(visits, 3);
  visits = 0;
  const tornWhileWritten: SegmentVisitor = {
    visit: (): Visit => {
      if (++visits <= 5) {
        Atomics.add(m.ch.i32, m.ver, 2);
        return Visit.Torn;
      }
      return Visit.Absent;
    },
  };
  assert.equal(m.r.seqlock.read(0, tornWhileWritten), ReadResult.Absent);
  assert.equal(visits, 6);
});

test('seqlock: a patient read waits out a writer that another thread lets finish 100 ms later', { timeout: 60_000 }, async () => {
  const m = setup();
  const v = Atomics.load(m.ch.i32, m.ver);
  Atomics.store(m.ch.i32, m.ver, v + 1);
  const ready = new Int32Array(new SharedArrayBuffer(4));
  const w = new Worker(
    `const { workerData: d } = require('node:worker_threads');
     const i32 = new Int32Array(d.sab); const ready = new Int32Array(d.ready);
     Atomics.store(ready, 0, 1); Atomics.notify(ready, 0);
     Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
     Atomics.store(i32, d.at, d.v + 2);`,
    { eval: true, workerData: { sab: m.ch.sab, ready: ready.buffer, at: m.ver, v } },
  );
  try {
    Atomics.wait(ready, 0, 0, 30_000);
    let found = '';
    const probe: SegmentVisitor = {
      visit: (): Visit => {
        found = 'visited';
        return Visit.Found;
      },
    };
    assert.equal(m.r.seqlock.readPatiently(0, probe, 30_000), ReadResult.Found);
    assert.equal(found, 'visited');
    assert.equal(m.r.seqlock.version, v + 2);
  } finally {
    await w.terminate();
  }
});
