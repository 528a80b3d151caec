/**
 * Eviction at the memory cap, against a real server: writers in several
 * processes write 4x the budget and are never refused; the table's memory
 * (the server's RSS) stays within the budget plus the process's own
 * overhead; and a model check: every key present holds exactly the value
 * its writer wrote last (eviction only ever removes whole entries), keys
 * deleted last or never written are absent, and nothing else appears.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { connect } from '../../src/index';
import { Scope } from '../support/procs';

const WRITER = path.join(__dirname, '..', 'fixtures', 'api', 'evict-writer.js');
const MiB = 1 << 20;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, 'VmRSS in /proc/PID/status');
  return Number(m[1]) * 1024;
}

test('eviction: 3 processes write 4x the budget of 1 KiB values; nothing refused, memory bounded, every value present is its last write', { timeout: 180_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-evict-');
  const region = s.p('region');
  const budgetMiB = 16;
  const srv = await s.startServer(['-n', '2', '-m', String(budgetMiB), '-p', region]);
  const idleRss = rssBytes(srv.pid);
  const writers = 3;
  const keys = 8000; // 3 x 8000 x ~1 KiB x 3 rounds = ~70 MiB written: 4x the budget
  const runs = Array.from({ length: writers }, (_, id) =>
    s.run(process.execPath, [WRITER, region, String(id), String(keys), '3'], { timeoutMs: 150_000 }),
  );
  const results = await Promise.all(runs);
  const last: Record<string, string | null> = {};
  for (const r of results) {
    assert.equal(r.code, 0, `a writer failed (a write refused at the cap?): ${r.stderr}`);
    Object.assign(last, JSON.parse(r.stdout) as Record<string, string | null>);
  }
  const grown = rssBytes(srv.pid) - idleRss;
  t.diagnostic(`server RSS grew by ${(grown / MiB).toFixed(1)} MiB for a ${budgetMiB} MiB budget (idle RSS ${(idleRss / MiB).toFixed(1)} MiB)`);
  // The table cannot outgrow its data file; the rest of the process (its
  // V8 heaps) is the idle overhead plus a little working memory.
  assert.ok(grown < (budgetMiB + 16) * MiB, `RSS grew by ${grown} bytes`);

  const kv = connect({ path: region });
  t.after(() => kv.close());
  let present = 0;
  for (const [key, value] of Object.entries(last)) {
    const got = kv.getSync(key);
    if (value === null) assert.equal(got, undefined, `${key} was deleted last`);
    else if (got !== undefined) {
      assert.equal(got, value, `${key} holds an older or foreign value`);
      present++;
    }
  }
  const written = Object.values(last).filter((v) => v !== null).length;
  t.diagnostic(`${present} of ${written} live keys still cached after eviction`);
  assert.ok(present > 0 && present < written, `eviction kept some keys and dropped others (${present} of ${written})`);
  assert.equal(kv.getSync('never-written'), undefined);
  assert.ok(kv.size <= present + writers * keys, 'size counts stored entries');
});

test('eviction: --eviction none refuses writes at the cap instead (TableFullError)', { timeout: 60_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-evict-');
  const region = s.p('region');
  await s.startServer(['-n', '1', '-m', '1', '--eviction', 'none', '-p', region]);
  const kv = connect({ path: region });
  t.after(() => kv.close());
  let refused = 0;
  for (let i = 0; i < 4000; i++) {
    try {
      kv.setSync(`k${i}`, 'v'.repeat(1000));
    } catch (e) {
      assert.equal((e as Error).name, 'TableFullError');
      refused++;
    }
  }
  assert.ok(refused > 0, 'writes past the cap were refused');
  assert.equal(kv.getSync('k0'), 'v'.repeat(1000), 'the first keys stayed');
});
