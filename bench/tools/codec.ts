// Encode/decode throughput of the structured-value codecs
// (src/codec/structured.ts), for bench/studies/CODECS.md.
//
//   node dist/bench/codec.js [--reps 7] [--slice-ms 150]
//
// The machine is shared, so nothing is compared across separate runs: each
// repetition measures every (value, codec, direction) cell once, codecs in a
// rotated order, and ratios vs json are taken within a repetition before the
// median is taken, so a noisy neighbour slows both sides of a ratio alike.
// Decoding reads from a view over a SharedArrayBuffer at an odd offset, as a
// reader of a store slot would.
import { decodeStructured, encodeStructured, Encoding } from '../../src/codec/structured';

type Codec = { name: string; enc: (v: unknown) => Uint8Array; dec: (b: Uint8Array) => unknown };
const codec = (e: Encoding): Codec => ({ name: e, enc: (v) => encodeStructured(v, e), dec: (b) => decodeStructured(b, e) });
const utf8 = new TextDecoder();
// json without the checkJson walk, to show what refusing silent changes costs.
const rawJson: Codec = { name: 'json-unchecked', enc: (v) => Buffer.from(JSON.stringify(v)), dec: (b) => JSON.parse(utf8.decode(b)) };
const CODECS: Codec[] = [codec('json'), rawJson, codec('msgpack'), codec('v8')];

const user = (i: number) => ({ id: 100000 + i, name: `User Number ${i}`, email: `user${i}@example.com`, tags: ['admin', 'beta', 'eu'], active: i % 2 === 0, score: 97.5 + i });
const datedUser = (i: number) => ({
  ...user(i),
  created: new Date(1_700_000_000_000 + i),
  updated: new Date(1_700_000_500_000 + i),
  attrs: new Map(Array.from({ length: 8 }, (_, k) => [`attr${k}`, k * i] as [string, number])),
  groups: new Set(['a', 'b', `g${i % 5}`]),
});
const VALUES: { name: string; value: unknown; jsonOk: boolean }[] = [
  { name: 'small (~100 B)', value: user(1), jsonOk: true },
  { name: 'medium (~1 KiB)', value: { page: 1, users: Array.from({ length: 10 }, (_, i) => user(i)) }, jsonOk: true },
  { name: 'large (~64 KiB)', value: { page: 1, users: Array.from({ length: 520 }, (_, i) => user(i)) }, jsonOk: true },
  { name: 'Date/Map/Set (~10 users)', value: Array.from({ length: 10 }, (_, i) => datedUser(i)), jsonOk: false },
  { name: 'Float64Array(1024)', value: { samples: new Float64Array(1024).map((_, i) => Math.sin(i)) }, jsonOk: false },
];

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const REPS = arg('--reps', 7);
const SLICE_MS = arg('--slice-ms', 150);

let sink = 0; // consumed results, so no call is optimised away
/** ops/s of fn over one time slice, in batches sized to ~1 ms. */
function rate(fn: () => unknown): number {
  let batch = 1;
  for (let t = process.hrtime.bigint(); process.hrtime.bigint() - t < 1_000_000n; batch *= 2) for (let i = 0; i < batch; i++) fn();
  const start = process.hrtime.bigint();
  const end = start + BigInt(SLICE_MS) * 1_000_000n;
  let ops = 0;
  let now = start;
  while (now < end) {
    for (let i = 0; i < batch; i++) if (fn() === sink) sink++;
    ops += batch;
    now = process.hrtime.bigint();
  }
  return ops / (Number(now - start) / 1e9);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0));

function sharedCopy(bytes: Uint8Array): Uint8Array {
  const view = new Uint8Array(new SharedArrayBuffer(bytes.length + 8), 3, bytes.length);
  view.set(bytes);
  return view;
}

type Cell = { enc: number[]; dec: number[]; encRatio: number[]; decRatio: number[]; bytes: number };
const cells = new Map<string, Cell>();
const inputs = new Map<string, Uint8Array>();
for (const v of VALUES) {
  for (const c of CODECS) {
    if (!v.jsonOk && c.name.startsWith('json')) continue;
    const bytes = c.enc(v.value);
    inputs.set(`${v.name}|${c.name}`, sharedCopy(bytes));
    cells.set(`${v.name}|${c.name}`, { enc: [], dec: [], encRatio: [], decRatio: [], bytes: bytes.length });
  }
}

for (let rep = 0; rep < REPS; rep++) {
  for (const v of VALUES) {
    const order = CODECS.map((_, i) => CODECS[(i + rep) % CODECS.length]).filter((c) => cells.has(`${v.name}|${c.name}`));
    const got = new Map<string, { enc: number; dec: number }>();
    for (const c of order) {
      const input = inputs.get(`${v.name}|${c.name}`)!;
      got.set(c.name, { enc: rate(() => c.enc(v.value).length), dec: rate(() => c.dec(input)) });
    }
    // Without json (Date/Map values) ratios are against msgpack.
    const base = got.get('json') ?? got.get('msgpack')!;
    for (const [name, r] of got) {
      const cell = cells.get(`${v.name}|${name}`)!;
      cell.enc.push(r.enc);
      cell.dec.push(r.dec);
      cell.encRatio.push(r.enc / base.enc);
      cell.decRatio.push(r.dec / base.dec);
    }
  }
  process.stderr.write(`rep ${rep + 1}/${REPS}\n`);
}

console.log(`node ${process.version}, ${REPS} reps x ${SLICE_MS} ms slices, medians; ratio = ops/s / json's ops/s in the same rep (msgpack's where json refuses the value)\n`);
console.log('| value | codec | bytes | encode ops/s | encode ratio | decode ops/s | decode ratio |');
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
for (const v of VALUES) {
  for (const c of CODECS) {
    const cell = cells.get(`${v.name}|${c.name}`);
    if (!cell) continue;
    console.log(`| ${v.name} | ${c.name} | ${cell.bytes} | ${fmt(median(cell.enc))} | ${median(cell.encRatio).toFixed(2)} | ${fmt(median(cell.dec))} | ${median(cell.decRatio).toFixed(2)} |`);
  }
}
if (sink === -1) console.log(sink);
