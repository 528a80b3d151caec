// The fixed structured-value codecs: v8, json, and plain msgpack (msgpackr
// without records). Each encoded value is self-contained: no state that a
// reader in another process would need. The default codec, 'msgpack', is
// msgpackr records against structures shared through the table
// (./records.ts); these are the selectable alternatives, and plain msgpack
// reads values tagged ValueTag.Msgpack and is the bench's reference.
//
// What each codec carries (tested in test/unit/codec.test.ts, measured in
// bench/studies/CODECS.md):
// - v8: node:v8 serialize/deserialize, the structured clone format.
//   Round-trips deepStrictEqual: plain objects,
//   arrays (holes too), Date, Map, Set, bigint of any size, typed arrays,
//   Buffer (comes back as Buffer), -0, NaN, ±Infinity, undefined, cycles.
//   The slowest to decode (~8x the default on a ~200 B object), the only one
//   that also keeps -0 and holes.
// - plain msgpack: msgpackr, no records, moreTypes + bigint extension.
//   Carries Date, Set, bigint, typed arrays, NaN, ±Infinity, undefined.
//   LOSES, silently: a Map comes back as a plain object (keys stringified),
//   -0 as 0, array holes as undefined, a Buffer as a plain Uint8Array; a
//   cycle overflows the stack. Not offered for writing any more.
// - json: JSON text, UTF-8. Refuses (TypeError) anything JSON would change:
//   see checkJson in ./check.ts (bigint, Map, Set, Date, typed arrays, class
//   instances, undefined, NaN/Infinity, holes, cycles). Only -0 becomes 0.
// For every codec a function or symbol anywhere in the value is a TypeError.
// Symbol-keyed and non-enumerable properties are not part of the value for
// any codec (all skip them, as structuredClone does), and a
// null-prototype object comes back with Object.prototype from all.
import * as v8 from 'node:v8';
import { Packr } from 'msgpackr';
import { checkJson, findCulprit, unsupported } from './check';
import { CodecError } from '../errors';

/** The `encoding` option: the codec of a client's structured values. */
export type Encoding = 'msgpack' | 'v8' | 'json';

/** Records against shared structures (./records.ts): fast and faithful (Map, Set, Date, cycles, bigint, typed arrays). */
export const DEFAULT_ENCODING: Encoding = 'msgpack';

/** The self-contained codecs of this module ('plain-msgpack': ValueTag.Msgpack, no longer written by clients). */
export type FixedCodec = 'v8' | 'json' | 'plain-msgpack';

// useRecords: false keeps each value decodable without the encoder's state.
// moreTypes adds Set/typed array/Error/RegExp extensions (Date is
// always the standard timestamp extension). useBigIntExtension carries bigints
// beyond 64 bits. copyBuffers: a decoded Buffer must not be a view into the
// input, which may be a reused scratch buffer.
// writeFunction: msgpackr would otherwise write a function as undefined.
const packr = new Packr({
  useRecords: false,
  moreTypes: true,
  useBigIntExtension: true,
  copyBuffers: true,
  writeFunction: () => {
    throw new TypeError('function');
  },
});

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * v8.deserialize, except that typed arrays, Buffers and DataViews are copies.
 * Node's DefaultDeserializer returns an aligned one as a view of its input
 * (test/unit/codec.test.ts caught it), so a decoded value would change when the
 * slot it came from is overwritten. Copying just these (documented hook
 * _readHostObject) beats copying the whole input: measured ~2x faster on a
 * 100-byte value, where allocating the copy dominated. Strings are always
 * copied by V8.
 */
// @types/node does not declare the hook on DefaultDeserializer.
const readHostObject = (v8.DefaultDeserializer.prototype as unknown as { _readHostObject(): ArrayBufferView })._readHostObject;
class CopyingDeserializer extends v8.DefaultDeserializer {
  _readHostObject(): unknown {
    const view = readHostObject.call(this);
    if (Buffer.isBuffer(view)) return Buffer.from(view); // Buffer#slice is a view, Buffer.from copies
    if (view instanceof DataView) return new DataView(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
    return (view as Uint8Array).slice();
  }
}

/** Turns a codec's failure on `value` into a one-line TypeError if a function or symbol caused it, else a CodecError. */
function encodeFailure(codec: FixedCodec, value: unknown, err: unknown): never {
  const found = findCulprit(value);
  if (found) throw unsupported(codec, found.what, found.path);
  if (err instanceof TypeError || err instanceof CodecError) throw err;
  const why = err instanceof RangeError && /call stack/.test(err.message) ? 'the value nests too deeply' : err instanceof Error ? err.message.split('\n')[0] : String(err);
  throw new CodecError(codec, `cannot encode: ${why}`, { cause: err });
}

/**
 * Encodes `value` into bytes of its own. Throws TypeError for values the
 * codec cannot carry (see the file header), CodecError for other failures.
 */
export function encodeStructured(value: unknown, codec: FixedCodec): Uint8Array {
  switch (codec) {
    case 'plain-msgpack':
      try {
        return packr.pack(value);
      } catch (err) {
        return encodeFailure(codec, value, err);
      }
    case 'v8':
      try {
        return v8.serialize(value);
      } catch (err) {
        return encodeFailure(codec, value, err);
      }
    case 'json':
      try {
        checkJson(value);
        return Buffer.from(JSON.stringify(value), 'utf8');
      } catch (err) {
        if (err instanceof TypeError) throw err; // checkJson's refusal, one line naming the culprit
        return encodeFailure(codec, value, err);
      }
    default:
      throw new TypeError(`unknown codec ${String(codec)}`);
  }
}

/**
 * Decodes bytes[0, len) made by encodeStructured with the same codec.
 * `bytes` may be a view over a SharedArrayBuffer or a reused scratch buffer;
 * the result never aliases it (strings, typed arrays and Buffers are
 * copies), so it may be overwritten after.
 * Throws CodecError for bytes that are not such a value (truncated, garbage;
 * trailing bytes too, except for v8, whose format has no end marker and which
 * ignores them); it never loops: every codec reads each byte once.
 */
export function decodeStructured(bytes: Uint8Array, codec: FixedCodec, len = bytes.length): unknown {
  const view = len === bytes.length ? bytes : bytes.subarray(0, len);
  try {
    switch (codec) {
      case 'plain-msgpack':
        // msgpackr's native string extractor is ~3x slower on a shared view
        // than on a private copy of it (measured: 1 KiB value, 58k vs 175k
        // decodes/s); the copy costs far less than that.
        return packr.unpack(view.buffer instanceof SharedArrayBuffer ? new Uint8Array(view) : view);
      case 'v8': {
        const des = new CopyingDeserializer(view);
        des.readHeader();
        return des.readValue();
      }
      case 'json':
        // fatal: invalid UTF-8 is garbage, not U+FFFD inside a valid string.
        return JSON.parse(utf8.decode(view));
      default:
        throw new TypeError(`unknown codec ${String(codec)}`);
    }
  } catch (err) {
    if (err instanceof TypeError && /^unknown codec/.test(err.message)) throw err;
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new CodecError(codec, `cannot decode ${len} bytes: ${why}`, { cause: err });
  }
}
