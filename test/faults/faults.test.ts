/**
 * Failure handling: clients and servers killed or signalled at any instant,
 * two servers on one region, foreign and stale region files, the table's
 * memory cap. Every test runs real server/client processes in its own temp
 * dir on its own region path and kills everything it started when it ends.
 * No assertion is about speed; the only clock bound is the liveness promise
 * the store makes (a client learns of a dead server within 2 s). Every other
 * wait is on a condition, bounded generously (WAIT_MS, LONG_MS) so that a
 * loaded machine slows the tests down without failing them.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Connection } from '../../src/client/connection';
import { HDR_VERSION, HDR_WINDOW_COUNT, REGION_VERSION, ServerState } from '../../src/layout/region-header';
import { Region } from '../../src/layout/region';
import { Exit, fmtExit, LONG_MS, lines, pidRunning, pollUntil, Proc, readWorkload, regionServerPid, repeatWorkload, Req, Scope, sleep, WAIT_MS, writeWorkload } from '../fixtures/faults/harness';
import { RegionError } from '../../src/errors';

/** How long a client may take to notice its server is gone (the promise). */
const NOTICE_MS = 2000;

function scoped(t: { after: (fn: () => Promise<void>) => void }, prefix?: string): Scope {
  const scope = new Scope(prefix);
  t.after(() => scope.cleanup());
  return scope;
}

const views = new Map<string, { ino: number; conn: Connection }>();
function view(region: string): Connection {
  const ino = fs.statSync(region).ino;
  let v = views.get(region);
  if (!v || v.ino !== ino) views.set(region, (v = { ino, conn: Connection.open({ path: region }) }));
  return v.conn;
}

/** Windows owned by anyone on the region's board (one mapping per region file). */
function ownedWindows(region: string): number {
  return view(region).owners.ownedCount();
}

/**
 * Windows owned by process `pid`. Attach waits must name the process: a
 * total count can be reached without it (a chaos client holds one extra
 * window now and then).
 */
function ownedBy(region: string, pid: number): number {
  return view(region).owners.ownedBy(pid);
}

function assertOneLine(p: Proc, re: RegExp, what: string): void {
  const l = lines(p.stderr);
  assert.equal(l.length, 1, `${what}: expected one line on stderr, got ${l.length}\n${p.output()}`);
  assert.match(l[0], re, `${what}\n${p.output()}`);
}

function assertExact(p: Proc, e: Exit, what: string): void {
  assert.equal(e.code, 0, `${what} failed (${fmtExit(e)})\n${p.output()}`);
  assert.match(p.stderr, /all \d+ get results match/, `${what}\n${p.output()}`);
}

async function checkedClient(scope: Scope, region: string, workload: string, expected: string, args: string[], label: string): Promise<void> {
  const c = scope.client(region, [...args, '-i', workload, '-c', '-e', expected], label);
  assertExact(c, await c.wait(LONG_MS), label);
}

/** A small deterministic workload in the scope's dir; returns [workload, expected]. */
async function smallWorkload(scope: Scope, name: string, threads = 2, window = 4, n = 5000): Promise<[string, string]> {
  const w = scope.file(`${name}.txt`);
  const e = scope.file(`${name}.expected`);
  await scope.genworkload(['-n', String(n), '-p', '50', '-k', '2000', '-t', String(threads), '-w', String(window), '-o', w, '-e', e]);
  return [w, e];
}

test('clients SIGKILLed at random instants (60 kills): a concurrent checked client stays exact, the server keeps serving, dead windows are reclaimed', { timeout: 1_800_000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  const BOARD = 64;
  const server = await scope.startServer(region, ['-n', '2', '-c', String(BOARD)]);

  // The checked client: 2 threads x window 4, a workload deterministic for
  // that split. It runs again and again while the kills go on; run r uses
  // keys shifted by r * KEYS so every run starts from absent keys.
  const KEYS = 4096;
  const [w, e] = [scope.file('checked.txt'), scope.file('checked.expected')];
  await scope.genworkload(['-n', '30000', '-p', '50', '-k', String(KEYS), '-t', '2', '-w', '4', '-r', '7', '-o', w, '-e', e]);
  const base = readWorkload(w);
  let killsDone = false;
  const checked = (async () => {
    let runs = 0;
    let boardFull = 0;
    for (;;) {
      const file = scope.file(`checked-${runs}.txt`);
      writeWorkload(file, base.map((r): Req => ({ ...r, key: r.key + runs * KEYS })));
      const c = scope.client(region, ['-n', '2', '-w', '4', '-i', file, '-c', '-e', e], `checked client run ${runs}`);
      const x = await c.wait(LONG_MS);
      if (x.code !== 0 && /free consecutive windows/.test(c.stderr)) {
        // Chaos clients and not-yet-reclaimed windows hold the board: a
        // refusal before any request was sent. Try the same run again.
        if (++boardFull > 400) throw new Error(`the checked client could not get 8 windows 400 times\n${c.output()}`);
        await sleep(25);
        continue;
      }
      assertExact(c, x, `checked client run ${runs}`);
      fs.rmSync(file);
      runs++;
      if (killsDone) return { runs, boardFull };
    }
  })();
  checked.catch(() => undefined);

  // Chaos: 2 slots, 30 kills each; every victim reserves 16 windows (2
  // threads x 8). Three in four are killed 0-40 ms after they are up and
  // serving (mid-protocol); one in four 0-150 ms after spawn (start-up,
  // connect, reservation).
  const KILLS = 60;
  const SLOTS = 2;
  let early = 0;
  let late = 0;
  const slot = async (s: number): Promise<void> => {
    for (let i = s; i < KILLS; i += SLOTS) {
      const victim = scope.fixture('chaos-client', [region, String(0x80000000 + i * 256), '2', '8'], `chaos client ${i}`);
      if (i % 4 === 3) {
        await sleep(Math.random() * 150);
        early++;
      } else {
        // A board that is never reclaimed shows up here: the victim cannot
        // reserve its 16 windows and never gets ready.
        await victim.waitFor(/^ready$/m, WAIT_MS);
        await sleep(Math.random() * 40);
        late++;
      }
      assert.equal(victim.running, true, `chaos client ${i} exited by itself\n${victim.output()}`);
      victim.kill('SIGKILL');
      const x = await victim.wait(WAIT_MS);
      assert.equal(x.signal, 'SIGKILL', `chaos client ${i} exited by itself (${fmtExit(x)})\n${victim.output()}`);
      assert.equal(server.running, true, `the server died during kill ${i}\n${server.output()}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: SLOTS }, (_, s) => slot(s)));
  } finally {
    killsDone = true;
  }
  const { runs, boardFull } = await checked;
  t.diagnostic(`kills: ${early} early + ${late} mid-protocol; checked client: ${runs} exact run(s), ${boardFull} board-full retries`);
  assert.ok(runs >= 1);
  assert.equal(server.running, true, `the server died\n${server.output()}`);

  // Every window of every dead client comes back (the reaper runs every
  // 100 ms): the board drains to zero owned windows.
  const drained = await pollUntil(() => ownedWindows(region) === 0, WAIT_MS, 50);
  assert.ok(drained, `${ownedWindows(region)} of ${BOARD} windows still owned ${WAIT_MS} ms after the last client died: dead clients' windows are not reclaimed`);

  // Once more with nothing else running: the last client to die before the
  // store goes idle must get its windows back too (no later traffic moves
  // the ring on).
  const last = scope.fixture('chaos-client', [region, String(0x80000000 + KILLS * 256), '2', '8'], 'last chaos client');
  await last.waitFor(/^ready$/m, WAIT_MS);
  await sleep(Math.random() * 40);
  last.kill('SIGKILL');
  assert.equal((await last.wait(WAIT_MS)).signal, 'SIGKILL', last.output());
  const drainedIdle = await pollUntil(() => ownedWindows(region) === 0, WAIT_MS, 50);
  assert.ok(drainedIdle, `${ownedWindows(region)} of ${BOARD} windows still owned ${WAIT_MS} ms after a client died on an idle server: its windows are not reclaimed`);

  // A client needing most of the board fits, and its answers are exact
  // (a late response for a dead client's request must not land in it).
  const [bw0, be] = await smallWorkload(scope, 'big', 4, 14, 20000);
  const bw = scope.file('big-shifted.txt');
  writeWorkload(bw, readWorkload(bw0).map((r): Req => ({ ...r, key: r.key + 0x40000000 })));
  const big = scope.client(region, ['-n', '4', '-w', '14', '-i', bw, '-c', '-e', be], 'client needing 56 of 64 windows');
  assertExact(big, await big.wait(LONG_MS), 'client needing 56 of 64 windows');

  server.kill('SIGTERM');
  const sx = await server.wait(WAIT_MS);
  assert.equal(sx.code, 0, `server exit after the chaos (${fmtExit(sx)})\n${server.output()}`);
});

test('server SIGKILLed while clients that do not ride through (--reconnect-ms 0, reconnect: false) wait: every client exits non-zero within 2 s saying so; a new server then serves the same path', { timeout: 1_800_000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  let server = await scope.startServer(region, ['-n', '2', '-r', '8', '-c', '64']);
  const [w, e] = [scope.file('w.txt'), scope.file('w.expected')];
  // 10 key-shifted copies of a 300k workload deterministic for 2 x 16: 3M
  // requests, seconds of work even for A on an idle machine, so that every
  // client is still running whenever the kill comes (they start at different
  // times, and the test waits for all of them).
  await scope.genworkload(['-n', '300000', '-p', '50', '-k', '100000', '-t', '2', '-w', '16', '-o', scope.file('base.txt'), '-e', scope.file('base.expected')]);
  repeatWorkload(scope.file('base.txt'), scope.file('base.expected'), w, e, 10, 100000);
  // A: 2 threads x 16 in flight into an 8-slot ring (some wait for ring
  // space); B: one request at a time (waits for responses); C: a library
  // client looping on a lane.
  const a = scope.client(region, ['-n', '2', '-w', '16', '-i', w, '-c', '-e', e, '--reconnect-ms', '0'], 'client A (2x16)');
  const b = scope.client(region, ['-n', '1', '-w', '1', '-i', w, '-c', '-e', e, '--reconnect-ms', '0'], 'client B (1x1)');
  const c = scope.fixture('chaos-client', [region, '1000000', '1', '4'], 'library client C');
  await c.waitFor(/^ready$/m, WAIT_MS);
  const reserved = await pollUntil(() => ownedBy(region, a.pid) === 32 && ownedBy(region, b.pid) === 1, WAIT_MS);
  assert.ok(reserved, `clients did not all attach\n${a.output()}\n${b.output()}`);
  await sleep(100);
  for (const p of [a, b, c]) assert.equal(p.running, true, `${p.label} finished before the kill: make its workload longer\n${p.output()}`);

  server.kill('SIGKILL');
  const killedAt = Date.now();
  for (const p of [a, b, c]) {
    const x = await p.wait(WAIT_MS).catch((err: Error) => {
      throw new Error(`${p.label} hangs after its server was SIGKILLed: ${err.message}`);
    });
    assert.ok(x.code !== 0 && x.signal === null, `${p.label} should exit non-zero (${fmtExit(x)})\n${p.output()}`);
    t.diagnostic(`${p.label} exited ${x.at - killedAt} ms after the kill`);
    assert.ok(x.at - killedAt <= NOTICE_MS, `${p.label} took ${x.at - killedAt} ms to notice its server died\n${p.output()}`);
    assertOneLine(p, /server.*(died|not responding)/, `${p.label} after the server was SIGKILLed`);
  }

  // The killed server left its region file behind: a new client refuses it.
  assert.ok(fs.existsSync(region));
  const late = scope.client(region, ['-n', '1', '-w', '1', '-i', w, '-c', '-e', e], 'client of the dead server');
  const lx = await late.wait(WAIT_MS);
  assert.equal(lx.code, 1, `client of a dead server's region (${fmtExit(lx)})\n${late.output()}`);
  assertOneLine(late, /server.*died/, 'client of the dead server');

  // A new server takes the path over and serves it (empty: --fresh; what it
  // adopts otherwise is recovery's tests' business).
  server = await scope.startServer(region, ['-n', '2', '--fresh'], 'second server');
  const [sw, se] = await smallWorkload(scope, 'after');
  await checkedClient(scope, region, sw, se, ['-n', '2', '-w', '4'], 'client of the second server');
  server.kill('SIGTERM');
  assert.equal((await server.wait(WAIT_MS)).code, 0);
});

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  test(`${sig} to the server while clients that do not ride through run: the server exits 0, each client completes or exits non-zero with one line within 2 s`, { timeout: 1_800_000 }, async (t) => {
    const scope = scoped(t);
    const region = scope.file('region');
    const server = await scope.startServer(region, ['-n', '2']);
    const [w, e] = [scope.file('w.txt'), scope.file('w.expected')];
    // One request at a time, 3M of them (10 key-shifted copies of 300k):
    // seconds of work even on an idle machine, not done in 2 s.
    await scope.genworkload(['-n', '300000', '-p', '50', '-k', '100000', '-o', scope.file('base.txt'), '-e', scope.file('base.expected')]);
    repeatWorkload(scope.file('base.txt'), scope.file('base.expected'), w, e, 10, 100000);
    const a = scope.client(region, ['-n', '1', '-w', '1', '-i', w, '-c', '-e', e, '--reconnect-ms', '0'], 'CLI client');
    // A library client that never stops submitting on its own.
    const c = scope.fixture('chaos-client', [region, '1000000', '2', '8'], 'looping library client');
    await c.waitFor(/^ready$/m, WAIT_MS);
    assert.ok(await pollUntil(() => ownedBy(region, a.pid) === 1, WAIT_MS), `the CLI client did not attach\n${a.output()}`);
    await sleep(200);
    assert.equal(a.running, true, `the CLI client finished before the signal\n${a.output()}`);

    server.kill(sig);
    const signalledAt = Date.now();
    const sx = await server.wait(WAIT_MS).catch((err: Error) => {
      throw new Error(`the server did not stop within ${WAIT_MS} ms of ${sig} while clients kept sending: ${err.message}`);
    });
    assert.equal(sx.code, 0, `server exit after ${sig} (${fmtExit(sx)})\n${server.output()}`);
    // The region stays, marked STOPPED (with the data file, the cache the next server adopts).
    assert.equal(Region.open(region).serverState(), ServerState.Stopped, 'the stopped server marked its region STOPPED');
    for (const p of [a, c]) {
      const x = await p.wait(WAIT_MS).catch((err: Error) => {
        throw new Error(`${p.label} hangs after its server stopped: ${err.message}`);
      });
      t.diagnostic(`${p.label} exited ${x.at - signalledAt} ms after ${sig} to the server`);
      assert.ok(x.at - signalledAt <= NOTICE_MS, `${p.label} still ran ${x.at - signalledAt} ms after ${sig} to the server\n${p.output()}`);
      if (x.code === 0) assertExact(p, x, p.label);
      else {
        assert.equal(x.signal, null, `${p.label}: ${fmtExit(x)}`);
        assertOneLine(p, /server.*(stopped|shutting down|died)/, `${p.label} after ${sig} to the server`);
      }
    }
  });
}

for (const group of [false, true]) {
  test(`SIGINT to a client with -f${group ? ' (to its whole process group, as Ctrl-C does)' : ''}: it exits 130 and its forked server is gone with the region file`, { timeout: 1_800_000 }, async (t) => {
    const scope = scoped(t);
    const region = scope.file('region');
    const [w, e] = [scope.file('w.txt'), scope.file('w.expected')];
    // 3M requests one at a time (10 key-shifted copies of 300k): seconds of
    // work even on an idle machine, still running when the signal comes.
    await scope.genworkload(['-n', '300000', '-p', '50', '-k', '100000', '-o', scope.file('base.txt'), '-e', scope.file('base.expected')]);
    repeatWorkload(scope.file('base.txt'), scope.file('base.expected'), w, e, 10, 100000);
    const c = scope.client(region, ['-f', '-t', '2', '-n', '1', '-w', '1', '-i', w, '-c', '-e', e], 'client -f', { detached: group });
    let serverPid = 0;
    assert.ok(await pollUntil(() => (serverPid = regionServerPid(region)) > 0 && ownedWindowsSafe(region) >= 1, WAIT_MS), `the client never attached to its forked server\n${c.output()}`);
    scope.adopt(serverPid);
    await sleep(300);
    assert.equal(c.running, true, `the client finished before the signal\n${c.output()}`);

    if (group) process.kill(-c.pid, 'SIGINT');
    else c.child.kill('SIGINT');
    const x = await c.wait(WAIT_MS);
    assert.equal(x.code, 130, `client exit after SIGINT (${fmtExit(x)})\n${c.output()}`);
    assert.match(c.stderr, /interrupted/);
    // The client waits for its server's exit before exiting itself, so this
    // holds at once; the bound only covers a slow /proc on a loaded machine.
    assert.ok(await pollUntil(() => !pidRunning(serverPid), WAIT_MS), `the forked server (pid ${serverPid}) outlived its client`);
    assert.equal(fs.existsSync(region), false, 'the forked server left its region file');
  });
}

/** ownedWindows, or 0 while the region is not ready. */
function ownedWindowsSafe(region: string): number {
  try {
    return ownedWindows(region);
  } catch {
    return 0;
  }
}

test('a second server on the same region refuses and leaves the first one serving', { timeout: 1_800_000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  const first = await scope.startServer(region, ['-n', '1'], 'first server');
  const inode = fs.statSync(region).ino;
  const second = scope.server(region, ['-n', '1'], 'second server');
  const x = await second.wait(WAIT_MS);
  assert.ok(x.code !== 0 && x.signal === null, `the second server should refuse (${fmtExit(x)})\n${second.output()}`);
  assertOneLine(second, /another server/, 'second server');
  assert.equal(first.running, true);
  assert.equal(fs.statSync(region).ino, inode, 'the second server replaced the region file');
  assert.equal(regionServerPid(region), first.pid, 'the second server rewrote the region header');
  const [w, e] = await smallWorkload(scope, 'w');
  await checkedClient(scope, region, w, e, ['-n', '2', '-w', '4'], 'client of the first server');
  first.kill('SIGTERM');
  assert.equal((await first.wait(WAIT_MS)).code, 0);
});

test('region file is 0600; other-version, garbage, truncated and stale region files are refused in one line, never misread', { timeout: 1_800_000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  const server = await scope.startServer(region, ['-n', '1', '-c', '64']);
  assert.equal(fs.statSync(region).mode & 0o777, 0o600, 'region file mode');
  assert.equal(fs.statSync(`${region}.lock`).mode & 0o777, 0o600, 'lock file mode');
  const [w, e] = await smallWorkload(scope, 'w', 1, 1, 200);

  const live = fs.readFileSync(region);
  const variant = (name: string, edit: (b: Buffer) => Buffer): string => {
    const f = scope.file(name);
    fs.writeFileSync(f, edit(Buffer.from(live)), { mode: 0o600 });
    return f;
  };
  const cases: Array<[string, string, RegExp]> = [
    [variant('other-version', (b) => (b.writeInt32LE(REGION_VERSION + 1, HDR_VERSION), b)), 'a region of another layout version', /version/],
    [variant('version-zero', (b) => (b.writeInt32LE(0, HDR_VERSION), b)), 'a region of layout version 0', /version/],
    [variant('garbage', (b) => (b.fill(0), Buffer.from(b.map((_, i) => (i * 7919 + 13) & 0xff)))), 'garbage', /not a key-value region/],
    [variant('zeros', (b) => b.fill(0)), 'all zeros', /not a key-value region/],
    [variant('empty', () => Buffer.alloc(0)), 'an empty file', /not a key-value region/],
    [variant('short', (b) => b.subarray(0, 100)), 'a 100-byte file', /not a key-value region/],
    [variant('truncated', (b) => b.subarray(0, b.length / 2)), 'a truncated region', /corrupt/],
    [variant('bad-geometry', (b) => (b.writeInt32LE(0x7fffffff, HDR_WINDOW_COUNT), b)), 'a region with a corrupt header', /corrupt/],
  ];
  for (const [file, what, re] of cases) {
    const before = fs.readFileSync(file);
    const c = scope.client(file, ['-n', '1', '-w', '1', '-i', w, '-c', '-e', e], `client of ${what}`);
    const x = await c.wait(WAIT_MS);
    assert.equal(x.code, 1, `client of ${what}: ${fmtExit(x)}\n${c.output()}`);
    assertOneLine(c, re, `client of ${what}`);
    assert.throws(() => Connection.open({ path: file }), (err: unknown) => err instanceof RegionError && re.test(err.message), `Connection.open of ${what}`);
    assert.ok(fs.readFileSync(file).equals(before), `the client modified ${what}`);
  }

  // A byte-for-byte copy of a live region: it names a live server pid and
  // says READY, but nobody serves it. The heartbeat watchdog must notice.
  const stale = variant('stale-copy', (b) => b);
  const c = scope.client(stale, ['-n', '1', '-w', '1', '-i', w, '-c', '-e', e], 'client of a stale copy');
  const x = await c.wait(WAIT_MS).catch((err: Error) => {
    throw new Error(`a client of a stale region copy hangs: ${err.message}`);
  });
  assert.ok(x.code !== 0 && x.signal === null, `client of a stale copy (${fmtExit(x)})\n${c.output()}`);
  assertOneLine(c, /not responding|died|stopped/, 'client of a stale copy');

  // A server refuses to overwrite a file that is not a region.
  const garbage = cases[2][0];
  const before = fs.readFileSync(garbage);
  const s2 = scope.server(garbage, ['-n', '1'], 'server on a garbage file');
  const sx = await s2.wait(WAIT_MS);
  assert.ok(sx.code !== 0 && sx.signal === null, `server on garbage (${fmtExit(sx)})\n${s2.output()}`);
  assertOneLine(s2, /not a key-value region/, 'server on a garbage file');
  assert.ok(fs.readFileSync(garbage).equals(before), 'the server overwrote a foreign file');

  assert.equal(server.running, true);
  await checkedClient(scope, region, w, e, ['-n', '1', '-w', '1'], 'client of the live region');
  server.kill('SIGTERM');
  assert.equal((await server.wait(WAIT_MS)).code, 0);
});

test('memory cap (-m 1): puts beyond it are refused and reported, the server stays up and answers gets and updates', { timeout: 1_800_000 }, async (t) => {
  const scope = scoped(t);
  const region = scope.file('region');
  const server = await scope.startServer(region, ['-n', '2', '-m', '1', '--eviction', 'none']);
  const N = 250000;
  const puts = scope.file('puts.txt');
  writeWorkload(puts, Array.from({ length: N }, (_, k): Req => ({ op: 'put', key: k, value: k + 1 })));
  const p = scope.client(region, ['-n', '2', '-w', '8', '-i', puts], 'client putting 250k distinct keys');
  const px = await p.wait(LONG_MS);
  assert.equal(px.code, 0, `${fmtExit(px)}\n${p.output()}`);
  const m = /client: (\d+) put\(s\) refused/.exec(p.stderr);
  assert.ok(m, `no 'put(s) refused' report\n${p.output()}`);
  const refused = Number(m[1]);
  assert.ok(refused > 0 && refused < N, `refused ${refused} of ${N}`);
  assert.equal(server.running, true, `the server died at its memory cap\n${server.output()}`);

  // Every key reads back as its value (stored) or 0 (refused), and exactly
  // N - refused are stored.
  const gets = scope.file('gets.txt');
  const out = scope.file('gets.out');
  writeWorkload(gets, Array.from({ length: N }, (_, k): Req => ({ op: 'get', key: k, value: 0 })));
  const g = scope.client(region, ['-n', '2', '-w', '8', '-i', gets, '-o', out], 'client reading them back');
  const gx = await g.wait(LONG_MS);
  assert.equal(gx.code, 0, `${fmtExit(gx)}\n${g.output()}`);
  const results = fs.readFileSync(out, 'utf8').trim().split('\n').map(Number);
  assert.equal(results.length, N);
  let stored = 0;
  const storedKeys: number[] = [];
  results.forEach((v, k) => {
    assert.ok(v === 0 || v === k + 1, `get ${k} returned ${v}`);
    if (v !== 0) {
      stored++;
      if (storedKeys.length < 100) storedKeys.push(k);
    }
  });
  assert.equal(stored, N - refused, `${stored} keys stored, but ${N} puts with ${refused} refused`);

  // At the cap, a stored key can still be updated.
  const upd = scope.file('update.txt');
  const updOut = scope.file('update.out');
  writeWorkload(upd, [...storedKeys.map((k): Req => ({ op: 'put', key: k, value: 7 })), ...storedKeys.map((k): Req => ({ op: 'get', key: k, value: 0 }))]);
  const u = scope.client(region, ['-n', '1', '-w', '1', '-i', upd, '-o', updOut], 'client updating at the cap');
  const ux = await u.wait(LONG_MS);
  assert.equal(ux.code, 0, `${fmtExit(ux)}\n${u.output()}`);
  const ur = fs.readFileSync(updOut, 'utf8').trim().split('\n').map(Number);
  assert.deepEqual(ur, storedKeys.map(() => 7), 'updates of stored keys at the cap');
  assert.doesNotMatch(u.stderr, /refused/, 'an update of a stored key was refused at the cap');
  assert.equal(server.running, true);
  server.kill('SIGTERM');
  assert.equal((await server.wait(WAIT_MS)).code, 0);
});
