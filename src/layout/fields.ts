/**
 * Records laid out as running sums: each field's offset is the sum of the
 * sizes before it (rounded up to the field's alignment), so no offset in
 * src/layout/ is typed by hand and no two fields can overlap. Also the two
 * units every record aligns to (CACHE_LINE, PAGE). Every record file of
 * src/layout/ builds on this one, which imports nothing.
 *
 * `draw()` renders a record as the table its file carries in its comments
 * (offset, bytes, constant, note); test/unit/layout.test.ts checks every
 * such drawing against the constants, and `node dist/tools/draw-layouts.js`
 * redraws them from the build.
 */

/** `n` rounded up to a multiple of `a`. */
export function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** One row of a record: `name` is the constant that holds `offset` ('-' for spare bytes). */
export interface FieldRow {
  readonly name: string;
  readonly offset: number;
  readonly bytes: number;
  readonly note: string;
}

/** The unit of `line()`: words other parties write often each get one of their own. */
export const CACHE_LINE = 64;
/** The unit of mapping: files and the areas mapped on their own start on a page. */
export const PAGE = 4096;

/** Column header of every drawing. */
export const DRAWING_HEADER = '  offset    bytes  field';

export class Fields {
  private at = 0;
  readonly rows: FieldRow[] = [];

  /** `title` is the drawing's first line: how its file's comment names it. */
  constructor(readonly title: string) {}

  /** A field of `bytes` bytes aligned to `align` (default: its own size, up to 8); returns its offset. */
  field(name: string, bytes: number, note = '', align = Math.min(bytes, 8)): number {
    this.at = alignUp(this.at, Math.max(align, 1));
    const offset = this.at;
    this.rows.push({ name, offset, bytes, note });
    this.at += bytes;
    return offset;
  }

  /** Bytes nobody uses (kept so that the fields after them stay where files put them). */
  spare(bytes: number, note: string): this {
    this.field('-', bytes, note, 1);
    return this;
  }

  /** Start the next field on a fresh cache line (a word other parties write often). */
  line(): this {
    this.at = alignUp(this.at, CACHE_LINE);
    return this;
  }

  /** Bytes used so far, rounded up to `align`. */
  size(align = 1): number {
    return alignUp(this.at, align);
  }

  /** The title, the column header, then one line per field: offset, bytes, name, note. */
  draw(): string {
    const rows = this.rows.map((r) => `  ${String(r.offset).padStart(6)}  ${String(r.bytes).padStart(7)}  ${(r.name + ' ').padEnd(26)}${r.note}`.trimEnd());
    return [this.title, DRAWING_HEADER, ...rows].join('\n');
  }
}
