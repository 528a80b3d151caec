/**
 * A strict parser of the Prometheus text exposition format 0.0.4 (the
 * subset an exporter writes: HELP, TYPE, samples with optional labels, no
 * timestamps), for tests. It throws on anything the format does not allow
 * or that a scraper would take badly: a sample without a TYPE, a family
 * declared twice or split, a bad metric or label name, a bad escape, a
 * value that is not a float, a counter that does not end in _total or is
 * negative, a duplicate sample, a missing final newline.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export interface Family {
  name: string;
  type: string;
  help: string | null;
  samples: Sample[];
}

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text: string, line: number): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?)$/.test(text)) throw new Error(`line ${line}: '${text}' is not a float`);
  return Number(text);
}

function parseLabels(text: string, line: number): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`line ${line}: label without '='`);
    const name = text.slice(i, eq);
    if (!LABEL.test(name) || name.startsWith('__')) throw new Error(`line ${line}: bad label name '${name}'`);
    if (text[eq + 1] !== '"') throw new Error(`line ${line}: label value not quoted`);
    let v = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const c = text[++j];
        if (c === 'n') v += '\n';
        else if (c === '\\' || c === '"') v += c;
        else throw new Error(`line ${line}: bad escape '\\${c}'`);
      } else v += text[j];
    }
    if (j >= text.length) throw new Error(`line ${line}: unterminated label value`);
    if (name in out) throw new Error(`line ${line}: label '${name}' twice`);
    out[name] = v;
    i = j + 1;
    if (i < text.length) {
      if (text[i] !== ',') throw new Error(`line ${line}: expected ',' between labels`);
      i++;
    }
  }
  return out;
}

export function parsePrometheus(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  let current: Family | null = null;
  const seen = new Set<string>();
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((l, idx) => {
    const n = idx + 1;
    if (l.trim() === '') return;
    if (l.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(l);
      if (!m) return; // a plain comment
      const [, kind, name, rest] = m;
      if (!METRIC.test(name)) throw new Error(`line ${n}: bad metric name '${name}'`);
      if (current && current.name !== name) closed.add(current.name);
      if (closed.has(name)) throw new Error(`line ${n}: family '${name}' split or declared twice`);
      let f = families.get(name);
      if (!f) families.set(name, (f = { name, type: 'untyped', help: null, samples: [] }));
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`line ${n}: bad type '${rest}'`);
        if (f.samples.length > 0) throw new Error(`line ${n}: TYPE after samples of '${name}'`);
        f.type = rest;
      } else {
        if (f.help !== null) throw new Error(`line ${n}: HELP of '${name}' twice`);
        if (/\\[^n\\]/.test(rest)) throw new Error(`line ${n}: bad escape in HELP`);
        f.help = rest;
      }
      current = f;
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(l);
    if (!m) throw new Error(`line ${n}: not a sample: '${l}'`);
    const [, name, , labelText, valueText] = m;
    const f = families.get(name);
    if (!f || f.type === 'untyped') throw new Error(`line ${n}: sample of '${name}' without a TYPE`);
    if (current !== f) throw new Error(`line ${n}: sample of '${name}' outside its family`);
    const labels = labelText === undefined ? {} : parseLabels(labelText, n);
    const value = parseValue(valueText, n);
    if (f.type === 'counter') {
      if (!name.endsWith('_total')) throw new Error(`line ${n}: counter '${name}' does not end in _total`);
      if (!(value >= 0)) throw new Error(`line ${n}: counter '${name}' is ${value}`);
    }
    const id = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(id)) throw new Error(`line ${n}: sample '${id}' twice`);
    seen.add(id);
    f.samples.push({ name, labels, value });
  });
  for (const f of families.values()) if (f.samples.length === 0) throw new Error(`family '${f.name}' has no sample`);
  return families;
}

/** The one value of family `name` (with `labels`), or a thrown error naming what is missing. */
export function valueOf(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const f = families.get(name);
  if (!f) throw new Error(`no family '${name}'`);
  const s = f.samples.find((x) => JSON.stringify(Object.entries(x.labels).sort()) === JSON.stringify(Object.entries(labels).sort()));
  if (!s) throw new Error(`no sample of '${name}' with ${JSON.stringify(labels)}`);
  return s.value;
}
