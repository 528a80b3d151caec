// Encode/decode throughput of the structured-value codecs (src/codec/),
// for bench/studies/CODECS.md.
//
//   node dist/bench/tools/codec.js [--reps 7] [--slice-ms 150]
//
// The machine is shared, so nothing is compared across separate runs: each
// repetition measures every (value, codec, direction) cell once, codecs in a
// rotated order, and ratios vs json are taken within a repetition before the
// median is taken, so a noisy neighbour slows both sides of a ratio alike.
// Decoding reads from a scratch buffer longer than the value, as a direct
// read of the store does (the reader copies a value there); plain msgpack
// and v8 get an exact-length view.
//
// Codecs: msgpack (the default: records against shared structures, here
// over an in-memory list as a table would hold it, warmed so every shape is
// known, as in a process that has run a while), plain msgpack (msgpackr
// without records, the former 'msgpack' and ValueTag.Msgpack), v8, json,
// and json-unchecked (JSON without the walk that refuses what JSON would
// change: not an encoding the store offers, for reference).
import { decodeStructured, encodeStructured, FixedCodec } from '../../src/codec/structured';
import { RecordCodec } from '../../src/codec/records';
import { MemoryStructures } from '../../src/codec/memory-structures';

type Codec = { name: string; enc: (v: unknown) => Uint8Array; dec: (b: Uint8Array, len: number) => unknown };
const fixed = (c: FixedCodec, name: string = c): Codec => ({ name, enc: (v) => encodeStructured(v, c), dec: (b, len) => decodeStructured(b, c, len) });
const records = new RecordCodec(new MemoryStructures().host(), 1 << 30);
const utf8 = new TextDecoder();
// json without the checkJson walk, to show what refusing silent changes costs.
const rawJson: Codec = { name: 'json-unchecked', enc: (v) => Buffer.from(JSON.stringify(v)), dec: (b, len) => JSON.parse(utf8.decode(b.subarray(0, len))) };
const CODECS: Codec[] = [
  fixed('json'),
  rawJson,
  { name: 'msgpack', enc: (v) => records.encode(v), dec: (b, len) => records.decode(b, len) },
  fixed('plain-msgpack'),
  fixed('v8'),
];

const user = (i: number) => ({ id: 100000 + i, name: `User Number ${i}`, email: `user${i}@example.com`, tags: ['admin', 'beta', 'eu'], active: i % 2 === 0, score: 97.5 + i });
/** The ~200 B object of issue 22 and the library bench (bench/report/library-data.ts objectOf). */
const account = (i: number) => ({
  id: 100000 + i,
  name: `Ada Lovelace ${i}`,
  email: `ada.lovelace${i}@example.com`,
  roles: ['admin', 'editor'],
  verified: i % 2 === 0,
  score: 4.75 + i,
  tags: ['alpha', 'beta', 'gamma', 'delta'],
  updatedAt: 1_700_000_000_000 + i * 1000,
});
const datedUser = (i: number) => ({
  ...user(i),
  created: new Date(1_700_000_000_000 + i),
  updated: new Date(1_700_000_500_000 + i),
  attrs: new Map(Array.from({ length: 8 }, (_, k) => [`attr${k}`, k * i] as [string, number])),
  groups: new Set(['a', 'b', `g${i % 5}`]),
});
const VALUES: { name: string; value: unknown; jsonOk: boolean }[] = [
  { name: 'small (~100 B)', value: user(1), jsonOk: true },
  { name: 'account (~200 B)', value: account(1), jsonOk: true },
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

/** The bytes in a scratch buffer longer than they are (as a direct read leaves them). */
function scratchCopy(bytes: Uint8Array): Uint8Array {
  const b = Buffer.alloc(bytes.length + 64);
  b.set(bytes);
  return b;
}

type Cell = { enc: number[]; dec: number[]; encRatio: number[]; decRatio: number[]; bytes: number };
const cells = new Map<string, Cell>();
const inputs = new Map<string, Uint8Array>();
const lengths = new Map<string, number>();
for (const v of VALUES) {
  for (const c of CODECS) {
    if (!v.jsonOk && c.name.startsWith('json')) continue;
    const bytes = c.enc(v.value);
    inputs.set(`${v.name}|${c.name}`, scratchCopy(bytes));
    lengths.set(`${v.name}|${c.name}`, bytes.length);
    cells.set(`${v.name}|${c.name}`, { enc: [], dec: [], encRatio: [], decRatio: [], bytes: bytes.length });
  }
}

for (let rep = 0; rep < REPS; rep++) {
  for (const v of VALUES) {
    const order = CODECS.map((_, i) => CODECS[(i + rep) % CODECS.length]).filter((c) => cells.has(`${v.name}|${c.name}`));
    const got = new Map<string, { enc: number; dec: number }>();
    for (const c of order) {
      const input = inputs.get(`${v.name}|${c.name}`)!;
      const len = lengths.get(`${v.name}|${c.name}`)!;
      got.set(c.name, { enc: rate(() => c.enc(v.value).length), dec: rate(() => c.dec(input, len)) });
    }
    // Without json (Date/Map values) ratios are against v8.
    const base = got.get('json') ?? got.get('v8')!;
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

console.log(`node ${process.version}, ${REPS} reps x ${SLICE_MS} ms slices, medians; ratio = ops/s / json's ops/s in the same rep (v8's where json refuses the value)\n`);
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
