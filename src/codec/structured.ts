// Structured-value codecs: how a JS value becomes the bytes a store slot holds
// and back. Every encoded value is self-contained: no codec here keeps state
// that a reader in another process would need (msgpackr's records and shared
// structures are off), so any process can decode any slot.
//
// What each codec carries (tested in test/unit/codec.test.ts, measured in
// bench/studies/CODECS.md):
// - v8 (DEFAULT): node:v8 serialize/deserialize, the structured clone format.
//   Round-trips deepStrictEqual: plain objects,
//   arrays (holes too), Date, Map, Set, bigint of any size, typed arrays,
//   Buffer (comes back as Buffer), -0, NaN, ±Infinity, undefined, cycles.
//   Slowest of the three on small objects; chosen because it is the only one
//   that loses nothing (see bench/studies/CODECS.md).
// - msgpack: msgpackr, no records, moreTypes + bigint extension. Carries Date,
//   Set, bigint (up to about 1000 bits), typed arrays, NaN, ±Infinity,
//   undefined. LOSES, silently (msgpackr has no hook to refuse them): a Map
//   comes back as a plain object (keys stringified: MessagePack maps and plain
//   objects are the same thing without records), -0 comes back as 0, array
//   holes as undefined, a Buffer as a plain Uint8Array; a cycle overflows the
//   stack (RangeError), and a Map with object or array keys encodes but then
//   fails to decode (CodecError: they cannot be object keys).
// - json: JSON text, UTF-8. Refuses (TypeError) anything JSON would change:
//   see checkJson in ./check.ts (bigint, Map, Set, Date, typed arrays, class
//   instances, undefined, NaN/Infinity, holes, cycles). Only -0 becomes 0.
// For every codec a function or symbol anywhere in the value is a TypeError.
// Symbol-keyed and non-enumerable properties are not part of the value for
// any codec (all three skip them, as structuredClone does), and a
// null-prototype object comes back with Object.prototype from all three.
import * as v8 from 'node:v8';
import { Packr } from 'msgpackr';
import { checkJson, findFunctionOrSymbol, unsupported } from './check';
import { CodecError } from '../errors';

export type Encoding = 'msgpack' | 'v8' | 'json';

/** The one codec of the three that round-trips every supported type. */
export const DEFAULT_ENCODING: Encoding = 'v8';


// useRecords: false keeps each value decodable without the encoder's state.
// moreTypes adds Set/typed array/Error/RegExp extensions (Date is
// always the standard timestamp extension). useBigIntExtension carries bigints
// beyond 64 bits. copyBuffers: a decoded Buffer must not be a view into the
// input, which may be a store slot that is later overwritten.
// structuredClone (object identity/cycles) is off: it costs ~25% (msgpackr's
// README) and the store keeps values, not object graphs.
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

// The json encoder writes into one reused buffer, grown on demand; UTF-8 needs
// at most 3 bytes per UTF-16 code unit, so that is the room reserved.
let jsonOut = Buffer.allocUnsafe(64 * 1024);
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

/** Turns a codec's failure on `value` into a one-line TypeError if a function or symbol caused it. */
function encodeFailure(encoding: Encoding, value: unknown, err: unknown): never {
  const found = findFunctionOrSymbol(value);
  if (found) throw unsupported(encoding, found.what, found.path);
  throw err;
}

/**
 * Encodes `value`. The result may be a view of a buffer this module reuses
 * (json does): it is valid until the next encodeStructured call; copy it (or
 * write it into the store) before encoding again.
 * Throws TypeError for values the encoding cannot carry (see the file header).
 */
export function encodeStructured(value: unknown, encoding: Encoding): Uint8Array {
  switch (encoding) {
    case 'msgpack':
      try {
        return packr.pack(value);
      } catch (err) {
        return encodeFailure(encoding, value, err);
      }
    case 'v8':
      try {
        return v8.serialize(value);
      } catch (err) {
        return encodeFailure(encoding, value, err);
      }
    case 'json': {
      checkJson(value);
      const text = JSON.stringify(value);
      if (text.length * 3 > jsonOut.length) jsonOut = Buffer.allocUnsafe(Math.max(text.length * 3, jsonOut.length * 2));
      const n = jsonOut.write(text, 0, 'utf8');
      return jsonOut.subarray(0, n);
    }
    default:
      throw new TypeError(`unknown encoding ${String(encoding)}`);
  }
}

/**
 * Decodes bytes made by encodeStructured with the same encoding. `bytes` may
 * be a view over a SharedArrayBuffer; the result never aliases it (strings,
 * typed arrays and Buffers are copies), so the slot may be overwritten after.
 * Throws CodecError for bytes that are not such a value (truncated, garbage;
 * trailing bytes too, except for v8, whose format has no end marker and which
 * ignores them); it never loops: every codec reads each byte once.
 */
export function decodeStructured(bytes: Uint8Array, encoding: Encoding): unknown {
  try {
    switch (encoding) {
      case 'msgpack':
        // msgpackr's native string extractor is ~3x slower on a shared view
        // than on a private copy of it (measured: 1 KiB value, 58k vs 175k
        // decodes/s); the copy costs far less than that.
        return packr.unpack(bytes.buffer instanceof SharedArrayBuffer ? new Uint8Array(bytes) : bytes);
      case 'v8': {
        const des = new CopyingDeserializer(bytes);
        des.readHeader();
        return des.readValue();
      }
      case 'json':
        // fatal: invalid UTF-8 is garbage, not U+FFFD inside a valid string.
        return JSON.parse(utf8.decode(bytes));
      default:
        throw new TypeError(`unknown encoding ${String(encoding)}`);
    }
  } catch (err) {
    if (err instanceof TypeError && /^unknown encoding/.test(err.message)) throw err;
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new CodecError(encoding, `cannot decode ${bytes.byteLength} bytes: ${why}`, { cause: err });
  }
}
