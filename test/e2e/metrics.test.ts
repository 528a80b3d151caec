/**
 * Metrics in Prometheus's text format, checked with a strict parser
 * (test/support/prometheus.ts): `shmkv-stat --prometheus` and the server's
 * `--metrics-port` endpoint give the same families; hits, misses, loads
 * and stale values are summed over client processes, and the sums never
 * go down when a process closes or is SIGKILLed (its line is folded into
 * the retired counters by the server).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as http from 'node:http';
import { ROOT, Scope, waitFor, waitUntil } from '../support/procs';
import { parsePrometheus, valueOf, Family } from '../support/prometheus';

const INDEX = path.join(__dirname, '..', '..', 'src', 'index.js');

function get(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
      })
      .on('error', reject);
  });
}

test('the strict parser refuses what the format forbids', () => {
  const ok = '# HELP a_total A.\n# TYPE a_total counter\na_total{kind="x\\"y"} 3\n# TYPE b gauge\nb -1.5e3\n';
  assert.equal(valueOf(parsePrometheus(ok), 'a_total', { kind: 'x"y' }), 3);
  assert.equal(valueOf(parsePrometheus(ok), 'b'), -1500);
  for (const bad of [
    'a 1\n', // no TYPE
    '# TYPE a counter\na 1\n', // a counter without _total
    '# TYPE a_total counter\na_total -1\n',
    '# TYPE a gauge\na one\n',
    '# TYPE a gauge\na 1', // no final newline
    '# TYPE a gauge\na 1\na 2\n', // a duplicate sample
    '# TYPE a gauge\na{b="c} 1\n',
    '# TYPE a gauge\na{1b="c"} 1\n',
    '# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\n', // a family split
    '# TYPE a gauge\n# TYPE 9a gauge\n',
    '# TYPE a gauge\n', // a family without samples
  ])
    assert.throws(() => parsePrometheus(bad), Error, JSON.stringify(bad));
});

test('--prometheus and --metrics-port: counters summed over client processes, never going down when processes exit', { timeout: 120_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-metrics-');
  const region = s.p('region');
  const srv = await s.startServer(['-n', '1', '-p', region, '--metrics-port', '0']);
  assert.ok(await waitFor(() => /metrics at (http:\S+)/.test(srv.stderr), 10_000), srv.stderr);
  const url = /metrics at (http:\S+)/.exec(srv.stderr)![1];
  const scrapeStat = async (): Promise<Map<string, Family>> => {
    const r = await s.run(path.join(ROOT, 'stat'), ['-p', region, '--prometheus']);
    assert.equal(r.code, 0, r.stderr);
    return parsePrometheus(r.stdout);
  };
  const scrapeHttp = async (): Promise<Map<string, Family>> => {
    const r = await get(url);
    assert.equal(r.status, 200);
    assert.match(r.type, /^text\/plain; version=0\.0\.4/);
    return parsePrometheus(r.body);
  };
  // Three processes: process i reads a present key (i+1)*10 times and an absent one (i+1)*3 times,
  // then stays until SIGUSR2, when it closes its client.
  const script = `
    const { connect } = require(${JSON.stringify(INDEX)});
    const kv = connect({ path: process.argv[1] });
    const i = Number(process.argv[2]);
    (async () => {
      kv.setSync('present', 1);
      for (let n = 0; n < (i + 1) * 10; n++) kv.getSync('present');
      for (let n = 0; n < (i + 1) * 3; n++) kv.getSync('absent-' + i);
      console.log('done');
      const t = setInterval(() => undefined, 1000);
      process.on('SIGUSR2', async () => { await kv.close(); clearInterval(t); });
    })();`;
  const procs = [0, 1, 2].map((i) => s.spawn(process.execPath, ['-e', script, region, String(i)], { timeoutMs: 60_000 }));
  const outs = procs.map((p) => {
    const o = { text: '' };
    p.child.stdout!.on('data', (d: Buffer) => (o.text += d.toString()));
    return o;
  });
  assert.ok(await waitFor(() => outs.every((o) => o.text.includes('done')), 30_000));
  const { connect } = await import('../../src/index');
  const kv = connect({ path: region });
  const bye = (i: number): void => void procs[i].child.kill('SIGUSR2');
  const hits = 10 + 20 + 30;
  const misses = 3 + 6 + 9;
  for (const scrape of [scrapeStat, scrapeHttp]) {
    const f = await scrape();
    assert.equal(valueOf(f, 'shmkv_hits_total'), hits);
    assert.equal(valueOf(f, 'shmkv_misses_total'), misses);
    assert.equal(valueOf(f, 'shmkv_client_lines'), 4, 'three processes and this one');
    assert.equal(valueOf(f, 'shmkv_sets_total'), 3);
    assert.equal(valueOf(f, 'shmkv_keys'), 1);
    assert.equal(valueOf(f, 'shmkv_fetch_timeouts_total', { kind: 'hard' }), 0);
    assert.equal(f.get('shmkv_hits_total')!.type, 'counter');
  }
  // A SIGKILLed process: its line is folded within the liveness period, the sums stay.
  procs[2].child.kill('SIGKILL');
  await procs[2].done;
  await waitUntil('the dead process line was folded', async () => valueOf(await scrapeHttp(), 'shmkv_client_lines') === 3, 10_000);
  let f = await scrapeHttp();
  assert.equal(valueOf(f, 'shmkv_hits_total'), hits, 'the dead process still counts');
  // A process that closes: folded on the next tick.
  bye(0);
  assert.equal((await procs[0].done).code, 0);
  await waitUntil('the closed client line was folded', async () => valueOf(await scrapeStat(), 'shmkv_client_lines') === 2, 10_000);
  f = await scrapeStat();
  assert.equal(valueOf(f, 'shmkv_hits_total'), hits);
  assert.equal(valueOf(f, 'shmkv_misses_total'), misses);
  // fetch's counters, from this process: a load, a failure with a stale value served.
  kv.setSync('g', 'old', { ttl: 1, grace: 60_000 });
  await waitUntil('stale', () => kv.getSync('g') === undefined);
  assert.equal(await kv.fetch('g', () => Promise.reject(new Error('down')), { ttl: 1000, grace: 60_000, timeout: { soft: 10_000 } }), 'old');
  f = await scrapeHttp();
  assert.equal(valueOf(f, 'shmkv_loads_total'), 1);
  assert.equal(valueOf(f, 'shmkv_load_failures_total'), 1);
  assert.equal(valueOf(f, 'shmkv_stale_served_total'), 1);
  await kv.close();
  bye(1);
  await procs[1].done;
  await kv.close();
  assert.equal((await get(url.replace('/metrics', '/other'))).status, 404);
});

test('--metrics-port: a port already taken stops the server with one line', { timeout: 60_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-metrics-');
  const blocker = http.createServer(() => undefined);
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  t.after(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  const r = await s.server(['-n', '1', '-p', s.p('region'), '--metrics-port', String(port)]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr.trim(), new RegExp(`^server: cannot serve metrics on 127\\.0\\.0\\.1:${port}: EADDRINUSE$`));
  assert.equal(s.exists('region'), false, 'no region left behind');
});
