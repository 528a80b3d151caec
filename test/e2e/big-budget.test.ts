/**
 * A server with a budget beyond 4 GiB (issue 26, "Done when"): -m 8192 is
 * four chunks, two of them mapped from file offsets past 2^32. It serves
 * and checks 1,000,000 values: 1,000,000 distinct keys written by the
 * library (16-byte keys, 100-byte values, strings and bytes) and read back
 * directly, then a replay of 2,000,000 requests, about 1,000,000 of them checked gets through the ring (the
 * server's read path) by the CLI. The data file is sparse: only what the
 * entries use is ever written.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { connect } from '../../src/index';
import { Scope, lines } from '../support/procs';

const N = 1_000_000;
const key = (i: number): string => `k${String(i).padStart(15, '0')}`; // 16 bytes
const value = (i: number): string | Buffer => (i % 4 === 3 ? Buffer.alloc(100, i & 0xff) : `${i}:`.padEnd(100, String.fromCharCode(97 + (i % 26))));

test('a server with -m 8192 (past 4 GiB) serves and checks 1,000,000 values, directly and through the ring', { timeout: 900_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-big-');
  const region = s.p('region');
  const srv = await s.startServer(['-n', '2', '-m', '8192', '-p', region]);
  const kv = connect({ path: region });
  try {
    const batch: Array<[string, string | Buffer]> = [];
    for (let i = 0; i < N; i++) {
      batch.push([key(i), value(i)]);
      if (batch.length === 10_000) {
        await kv.setMany(batch);
        batch.length = 0;
      }
    }
    assert.equal(kv.size, N);
    let bad = 0;
    for (let i = 0; i < N; i++) {
      const v = kv.getSync(key(i));
      const want = value(i);
      if (typeof want === 'string' ? v !== want : !(Buffer.isBuffer(v) && v.equals(want))) bad++;
    }
    assert.equal(bad, 0, 'values read back wrong');
    const st = kv.stats();
    assert.ok(st.bytesUsed > N * 116, `bytes in use: ${st.bytesUsed}`);
    // The replay's expected results start from an empty table (its keys look like these).
    await kv.clear();
  } finally {
    kv.closeSync();
  }
  // Through the ring: the server's read of values spread over all four chunks.
  const gen = await s.gen(['-n', String(2 * N), '-p', '50', '-k', String(N), '-t', '2', '-w', '8', '--key-bytes', '16', '--value-bytes', '100', '-o', 'w.txt', '-e', 'e.txt']);
  assert.equal(gen.code, 0, gen.stderr);
  const run = await s.client(['-n', '2', '-w', '8', '-i', 'w.txt', '-c', '-e', 'e.txt', '-p', region], { timeoutMs: 600_000 });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(lines(run.stderr).filter((l) => /mismatch|error/i.test(l)), []);
  assert.equal((await srv.stop('SIGTERM')).code, 0);
});
