/**
 * What refusing lone surrogates costs getSync and setSync (src/store/keys.ts
 * checkWellFormed, run by the key encoder past its ASCII fast path and by
 * prepareValue on every string value): one process, one ./server, the same
 * calls with the check as shipped and with String.prototype.isWellFormed
 * replaced by `() => true` (the check made free), the two variants
 * interleaved round by round on the same keys; medians of the rounds, in ns
 * per call, and their ratio.
 *
 *   node dist/bench/tools/surrogates.js [CALLS [ROUNDS]]   # default 200,000 calls, 7 rounds
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { connect } from '../../src/index';

const CALLS = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 7);
const SERVER = path.join(__dirname, '..', '..', 'src', 'cli', 'server.js');

/**
 * [what, key, value ('' for a getSync), calls per round as a fraction of
 * CALLS]: keys that do and do not take the ASCII fast path, values one-byte
 * and two-byte.
 */
const CASES: Array<[string, string, string, number]> = [
  ['getSync, 12-char ASCII key (fast path: no check)', 'user:0000001', '', 1],
  ['getSync, 100-char ASCII key', `page:${'a'.repeat(95)}`, '', 1],
  ['getSync, 20-char key with an é (one-byte)', 'café:000000000000001', '', 1],
  ['getSync, 20-char key with a € (two-byte)', 'price:€0000000000001', '', 1],
  ['setSync, 100 B ASCII value', 'v:ascii', 'x'.repeat(100), 1 / 16],
  ['setSync, 1 KiB value with a € (two-byte)', 'v:euro1k', '€' + 'x'.repeat(1023), 1 / 16],
  ['setSync, 64 KiB two-byte value', 'v:euro64k', '€'.repeat(65536), 1 / 256],
];

const realCheck = String.prototype.isWellFormed;
const freeCheck = function (this: string): boolean {
  return true;
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkv-surrogates-'));
  const region = path.join(dir, 'region');
  const server = spawn(process.execPath, [SERVER, '-n', '1', '-p', region, '--temporary', '--data-dir', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    server.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (/server: ready/.test(err)) resolve();
    });
    server.once('exit', (code) => reject(new Error(`server exited (${code}): ${err}`)));
  });
  const kv = connect({ path: region });
  try {
    for (const [, key, value] of CASES) kv.setSync(key, value === '' ? 'v' : value);
    const ns: Array<{ real: number[]; free: number[] }> = CASES.map(() => ({ real: [], free: [] }));
    for (let round = 0; round <= ROUNDS; round++) {
      // Alternate which variant goes first; round 0 warms both up and is not counted.
      for (const variant of round % 2 === 0 ? (['real', 'free'] as const) : (['free', 'real'] as const)) {
        String.prototype.isWellFormed = variant === 'real' ? realCheck : freeCheck;
        CASES.forEach(([, key, value, share], i) => {
          const n = Math.max(1, Math.round(CALLS * share));
          const t0 = process.hrtime.bigint();
          if (value === '') for (let j = 0; j < n; j++) kv.getSync(key);
          else for (let j = 0; j < n; j++) kv.setSync(key, value);
          const per = Number(process.hrtime.bigint() - t0) / n;
          if (round > 0) ns[i][variant].push(per);
        });
      }
    }
    String.prototype.isWellFormed = realCheck;
    process.stdout.write(`node ${path.relative(process.cwd(), process.argv[1])} ${CALLS} ${ROUNDS} (Node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})\n\n`);
    process.stdout.write('| call | with the check (ns) | check made free (ns) | ratio |\n|---|---:|---:|---:|\n');
    CASES.forEach(([what], i) => {
      const r = median(ns[i].real);
      const f = median(ns[i].free);
      process.stdout.write(`| ${what} | ${r.toFixed(0)} | ${f.toFixed(0)} | ${(r / f).toFixed(3)} |\n`);
    });
  } finally {
    await kv.close();
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
