/**
 * The cache survives its server (issue 20, "Done when" (a)): 50 rounds of
 * SIGKILL to the server while 4 processes write self-checking values (test/
 * fixtures/faults/crash-writer.ts: string values of 8 B to 4 KiB, u32 values
 * in their index slots), each followed by a restart on the same path. After
 * every restart the new server has adopted the table (store/recovery.ts),
 * rebuilt and checked every chunk (its allocator's invariants walked), and
 * every key holds the value of its last acknowledged write, or of the
 * write that was in flight when the server died: never an older one, never
 * a torn one, never a key that was not written.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { connect, Client } from '../../src/index';
import { parseString, parseU32 } from '../fixtures/faults/crash-writer';
import { pollUntil, Proc, Scope, WAIT_MS } from '../fixtures/faults/harness';

const ROUNDS = 50;
const WRITERS = 4;
const KEYS = 300;

/** What a key may hold: the sequence of its last acknowledged write (-1: none, absent), and one that was in flight. */
interface Allowed {
  acked: number;
  inFlight: number | null;
}

/** Check every key of the model against the server's table; resolve what was in flight. */
function checkAll(kv: Client, model: Map<string, Allowed>): void {
  for (const [key, allowed] of model) {
    const isU32 = /^\d+$/.test(key);
    const v = kv.getSync(isU32 ? Number(key) : key);
    if (v === undefined) {
      assert.equal(allowed.acked, -1, `key ${key} is gone; its last acknowledged write is ${allowed.acked}`);
      model.delete(key);
      continue;
    }
    let seq: number | null = null;
    if (isU32) {
      assert.equal(typeof v, 'number', `u32 key ${key} holds ${String(v)}`);
      seq = parseU32(Number(key), v as number);
    } else {
      assert.equal(typeof v, 'string', `key ${key} holds ${String(v)}`);
      const p = parseString(v as string);
      assert.ok(p && p.key === key, `key ${key} holds a torn or foreign value: ${String(v).slice(0, 60)}`);
      seq = p.seq;
    }
    assert.ok(seq !== null, `u32 key ${key} holds a torn value ${String(v)}`);
    assert.ok(seq === allowed.acked || seq === allowed.inFlight, `key ${key} holds write ${seq}; its last acknowledged write is ${allowed.acked}, in flight ${allowed.inFlight}`);
    model.set(key, { acked: seq, inFlight: null });
  }
}

test(`${ROUNDS} rounds of SIGKILL to the server under ${WRITERS} writing processes, each followed by a restart: every acknowledged write is there, none torn`, { timeout: 1_800_000 }, async (t) => {
  const scope = new Scope('shmkv-crash-');
  t.after(() => scope.cleanup());
  const region = scope.file('region');
  const model = new Map<string, Allowed>();
  let adoptedKeys = 0;
  for (let round = 0; round <= ROUNDS; round++) {
    const server = await scope.startServer(region, ['-n', '2', '-m', '64'], `server ${round}`);
    if (round > 0) {
      const ready = /adopted (\d+) key\(s\) from \S+ in \d+ ms(.*)$/m.exec(server.stderr);
      assert.ok(ready, `round ${round}: the server did not adopt the table:\n${server.stderr}`);
      assert.equal(ready[2], '', `round ${round}: a crash left damage recovery had to drop: ${ready[0]}`);
      adoptedKeys = Number(ready[1]);
    }
    const kv = connect({ path: region });
    try {
      checkAll(kv, model);
      if (round > 0) assert.equal(adoptedKeys, model.size, `round ${round}: the adopted table holds exactly the keys written`);
      if (round === ROUNDS) {
        await kv.close();
        server.kill('SIGTERM');
        assert.equal((await server.wait(WAIT_MS)).code, 0);
        break;
      }
      // Write until the server has applied some more writes (a different amount each round), then kill it mid-stream.
      const writers: Proc[] = [];
      for (let id = 0; id < WRITERS; id++) writers.push(scope.fixture('crash-writer', [region, String(id), String(KEYS), String(round * 7919 + id * 104729 + 1)], `writer ${id}`));
      for (const w of writers) await w.waitFor(/^ready$/m, WAIT_MS);
      const start = kv.stats().sets;
      const target = 200 + ((round * 977) % 2000);
      assert.ok(await pollUntil(() => kv.stats().sets - start >= target, WAIT_MS), `round ${round}: the writers did not write`);
      server.kill('SIGKILL');
      await server.wait(WAIT_MS);
      for (const w of writers) {
        const x = await w.wait(WAIT_MS);
        assert.equal(x.code, 0, w.output());
        const report = JSON.parse(w.stdout.trim().split('\n').pop()!) as { acked: Record<string, number>; inFlight: [string, number] | null };
        for (const [key, seq] of Object.entries(report.acked)) model.set(key, { acked: seq, inFlight: null });
        if (report.inFlight) {
          const [key, seq] = report.inFlight;
          const prev = model.get(key);
          // A key never acknowledged yet that was in flight: absent, or that write.
          if (prev) prev.inFlight = seq;
          else model.set(key, { acked: -1, inFlight: seq });
        }
      }
    } finally {
      await kv.close().catch(() => undefined);
    }
  }
});
