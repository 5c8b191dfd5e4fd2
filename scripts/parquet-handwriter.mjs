// parquet-handwriter.mjs: a small, test-only Parquet writer, written from parquet-format
// (parquet.thrift, Encodings.md) independently of src/parquet*.c, for the page layouts that no
// offline writer produces:
//   - pyarrow's fallback inside one column chunk: a DICTIONARY_PAGE, RLE_DICTIONARY data pages for
//     the first rows, then PLAIN data pages once the dictionary passed its size limit (FineWeb-Edu's
//     `text` column, spec/data.md §1.3);
//   - data pages v2 stored uncompressed (is_compressed = false) in a SNAPPY chunk;
//   - the legacy PLAIN_DICTIONARY encoding names;
//   - deliberately unsupported features (codecs, encodings, repeated columns) for refusal tests.
// Files it writes are checked with hyparquet (an independent reader) by `parquet-fixtures.mjs verify`.
//
// writeParquet({columns, rowGroupSize, codec, compress, pageVersion, pageSize, dictLimit, ...}) -> Buffer
//   columns: [{name, type: 'BYTE_ARRAY'|'INT32'|'INT64'|'FLOAT'|'DOUBLE'|'BOOLEAN', optional, string,
//              dictionary (bool), values: [...] (null = missing; a Buffer = raw bytes), repeated}]
import zlib from 'node:zlib';

export const TYPES = { BOOLEAN: 0, INT32: 1, INT64: 2, INT96: 3, FLOAT: 4, DOUBLE: 5, BYTE_ARRAY: 6 };
export const CODECS = { UNCOMPRESSED: 0, SNAPPY: 1, GZIP: 2, LZO: 3, BROTLI: 4, LZ4: 5, ZSTD: 6, LZ4_RAW: 7 };
export const ENC = { PLAIN: 0, PLAIN_DICTIONARY: 2, RLE: 3, BIT_PACKED: 4, DELTA_BINARY_PACKED: 5,
  DELTA_LENGTH_BYTE_ARRAY: 6, DELTA_BYTE_ARRAY: 7, RLE_DICTIONARY: 8, BYTE_STREAM_SPLIT: 9 };

// ---- bytes --------------------------------------------------------------------------------------
class Bytes {
  constructor() { this.parts = []; this.length = 0; }
  push(buf) { this.parts.push(buf); this.length += buf.length; return this; }
  u8(v) { return this.push(Buffer.from([v & 0xff])); }
  u32(v) { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return this.push(b); }
  uleb(v) { // v: number or bigint, >= 0
    let x = BigInt(v); const out = [];
    do { let b = Number(x & 0x7fn); x >>= 7n; if (x) b |= 0x80; out.push(b); } while (x);
    return this.push(Buffer.from(out));
  }
  zigzag(v) { const x = BigInt(v); return this.uleb(x >= 0n ? x << 1n : ((-x) << 1n) - 1n); }
  concat() { return Buffer.concat(this.parts, this.length); }
}

// ---- Thrift compact protocol: a struct is a list of [id, type, value] --------------------------
const T = { TRUE: 1, FALSE: 2, I32: 5, I64: 6, BINARY: 8, LIST: 9, STRUCT: 12 };
function thriftStruct(out, fields) {
  let last = 0;
  for (const [id, type, value] of fields) {
    if (value === undefined) continue;
    const t = type === 'bool' ? (value ? T.TRUE : T.FALSE) : type;
    const delta = id - last;
    if (delta > 0 && delta <= 15) out.u8((delta << 4) | t); else { out.u8(t); out.zigzag(id); }
    last = id;
    if (type !== 'bool') thriftValue(out, type, value);
  }
  out.u8(0); // STOP
}
function thriftValue(out, type, value) {
  switch (type) {
    case T.I32: case T.I64: out.zigzag(value); break;
    case T.BINARY: { const b = Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8'); out.uleb(b.length); out.push(b); break; }
    case T.STRUCT: thriftStruct(out, value); break;
    case T.LIST: { // value: [elemType, items]
      const [et, items] = value;
      if (items.length < 15) out.u8((items.length << 4) | et); else { out.u8(0xf0 | et); out.uleb(items.length); }
      for (const it of items) thriftValue(out, et, it);
      break;
    }
    default: throw new Error(`thrift type ${type}`);
  }
}

// ---- encodings ----------------------------------------------------------------------------------
const bitWidth = (max) => { let w = 0; while (max >= 2 ** w) w++; return w; };

// RLE/bit-packed hybrid: runs of >= 8 equal values as RLE runs, the rest as bit-packed groups of 8.
export function rleHybrid(values, width) {
  const out = new Bytes();
  const byteWidth = Math.ceil(width / 8);
  let i = 0;
  const packed = [];
  const flushPacked = () => {
    if (!packed.length) return;
    while (packed.length % 8) packed.push(0); // the last group is padded
    out.uleb(((packed.length / 8) << 1) | 1);
    const bytes = Buffer.alloc((packed.length * width) / 8);
    packed.forEach((v, k) => { for (let b = 0; b < width; b++) if ((v >>> b) & 1) { const bit = k * width + b; bytes[bit >> 3] |= 1 << (bit & 7); } });
    out.push(bytes);
    packed.length = 0;
  };
  while (i < values.length) {
    let run = 1;
    while (i + run < values.length && values[i + run] === values[i]) run++;
    if (run >= 8 && packed.length % 8 === 0) {
      flushPacked();
      out.uleb(run << 1);
      for (let b = 0; b < byteWidth; b++) out.u8(values[i] >>> (8 * b));
      i += run;
    } else {
      packed.push(values[i++]);
    }
  }
  flushPacked();
  return out.concat();
}

function plainValues(type, values) {
  const out = new Bytes();
  if (type === 'BOOLEAN') {
    const b = Buffer.alloc(Math.ceil(values.length / 8));
    values.forEach((v, k) => { if (v) b[k >> 3] |= 1 << (k & 7); });
    return b;
  }
  for (const v of values) {
    if (type === 'BYTE_ARRAY') { const s = Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8'); out.u32(s.length); out.push(s); }
    else if (type === 'INT32') { const b = Buffer.alloc(4); b.writeInt32LE(v); out.push(b); }
    else if (type === 'INT64') { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(v)); out.push(b); }
    else if (type === 'FLOAT') { const b = Buffer.alloc(4); b.writeFloatLE(v); out.push(b); }
    else if (type === 'DOUBLE') { const b = Buffer.alloc(8); b.writeDoubleLE(v); out.push(b); }
  }
  return out.concat();
}
const plainSize = (type, v) => (type === 'BYTE_ARRAY' ? 4 + (Buffer.isBuffer(v) ? v.length : Buffer.byteLength(v, 'utf8')) : type === 'INT64' || type === 'DOUBLE' ? 8 : 4);

// ---- pages --------------------------------------------------------------------------------------
function pageHeader(type, uncompressed, compressed, sub) {
  const out = new Bytes();
  thriftStruct(out, [[1, T.I32, type], [2, T.I32, uncompressed], [3, T.I32, compressed], ...sub]);
  return out.concat();
}

// One data page: rows [values, defs] with `encoding` ('PLAIN' or dictionary indices).
function dataPage(opts, col, defs, present, encoding, dictSize) {
  const maxDef = col.optional ? 1 : 0;
  let body;
  if (encoding === 'PLAIN') body = plainValues(col.type, present);
  else { const w = bitWidth(Math.max(0, dictSize - 1)); body = Buffer.concat([Buffer.from([w]), rleHybrid(present, w)]); }
  const levels = maxDef ? rleHybrid(defs, 1) : Buffer.alloc(0);
  const encId = encoding === 'PLAIN' ? ENC.PLAIN : ENC[opts.dictDataEncoding ?? 'RLE_DICTIONARY'];
  if (opts.pageVersion === 2) {
    const compressed = !opts.v2Uncompressed;
    const stored = compressed ? opts.compress(body) : body;
    const nulls = defs.filter((d) => d === 0).length;
    const h = pageHeader(3, levels.length + body.length, levels.length + stored.length,
      [[8, T.STRUCT, [[1, T.I32, defs.length], [2, T.I32, maxDef ? nulls : 0], [3, T.I32, defs.length], [4, T.I32, encId],
        [5, T.I32, levels.length], [6, T.I32, 0], [7, 'bool', compressed ? undefined : false]]]]);
    return { bytes: Buffer.concat([h, levels, stored]), uncompressed: h.length + levels.length + body.length };
  }
  const prefix = new Bytes();
  if (maxDef) prefix.u32(levels.length);
  const raw = Buffer.concat([prefix.concat(), maxDef ? levels : Buffer.alloc(0), body]);
  const stored = opts.compress(raw);
  const h = pageHeader(0, raw.length, stored.length,
    [[5, T.STRUCT, [[1, T.I32, defs.length], [2, T.I32, encId], [3, T.I32, ENC.RLE], [4, T.I32, ENC.RLE]]]]);
  return { bytes: Buffer.concat([h, stored]), uncompressed: h.length + raw.length };
}

// A column chunk for rows [lo, hi): returns its bytes (pages) and metadata pieces.
function columnChunk(opts, col, lo, hi, fileOffset) {
  const rows = col.values.slice(lo, hi);
  const pages = [];
  let dictionary = null;
  let dictRows = 0; // rows [0, dictRows) are dictionary-encoded, the rest PLAIN (the fallback)
  if (col.dictionary) {
    const index = new Map(); let bytes = 0;
    for (; dictRows < rows.length; dictRows++) {
      const v = rows[dictRows];
      if (v === null || index.has(v)) continue;
      if (bytes + plainSize(col.type, v) > opts.dictLimit) break; // dictionary full: fall back to PLAIN
      index.set(v, index.size); bytes += plainSize(col.type, v);
    }
    dictionary = { index, values: [...index.keys()] };
  }
  const chunks = [];
  let uncompressedTotal = 0;
  const add = (page) => { chunks.push(page.bytes); uncompressedTotal += page.uncompressed; };
  if (dictionary) {
    const raw = plainValues(col.type, dictionary.values);
    const stored = opts.compress(raw);
    const h = pageHeader(2, raw.length, stored.length,
      [[7, T.STRUCT, [[1, T.I32, dictionary.values.length], [2, T.I32, ENC[opts.dictPageEncoding ?? 'PLAIN']]]]]);
    add({ bytes: Buffer.concat([h, stored]), uncompressed: h.length + raw.length });
  }
  const dictPageLen = chunks.length ? chunks[0].length : 0;
  // Pages of about opts.pageSize bytes of values, never mixing the dictionary and PLAIN parts.
  const emit = (from, to, encoding) => {
    let start = from;
    while (start < to) {
      let end = start, size = 0;
      while (end < to && (end === start || size < opts.pageSize)) { if (rows[end] !== null) size += plainSize(col.type, rows[end]); end++; }
      const defs = rows.slice(start, end).map((v) => (v === null ? 0 : 1));
      const present = rows.slice(start, end).filter((v) => v !== null);
      add(dataPage(opts, col, defs, encoding === 'PLAIN' ? present : present.map((v) => dictionary.index.get(v)), encoding,
        dictionary ? dictionary.values.length : 0));
      start = end;
    }
  };
  if (dictionary) emit(0, dictRows, 'DICT');
  emit(dictRows, rows.length, 'PLAIN');
  if (opts.indexPageAfterData) add({ bytes: pageHeader(1, 0, 0, []), uncompressed: 0 }); // INDEX_PAGE: skipped by readers
  const bytes = Buffer.concat(chunks);
  const encodings = [ENC.PLAIN, ENC.RLE]; if (dictionary) encodings.push(ENC.RLE_DICTIONARY);
  const meta = [[1, T.I32, TYPES[col.type]], [2, T.LIST, [T.I32, encodings]], [3, T.LIST, [T.BINARY, [col.name]]],
    [4, T.I32, CODECS[opts.codec]], [5, T.I64, rows.length], [6, T.I64, uncompressedTotal], [7, T.I64, bytes.length],
    [9, T.I64, fileOffset + dictPageLen], [11, T.I64, dictionary ? fileOffset : undefined]];
  return { bytes, meta, uncompressed: uncompressedTotal };
}

export function writeParquet(options) {
  const opts = { rowGroupSize: 1000, codec: 'SNAPPY', pageVersion: 1, pageSize: 1 << 20, dictLimit: 1 << 20, ...options };
  if (!opts.compress) throw new Error('writeParquet: give compress(buffer) for the codec');
  const nrows = opts.columns[0].values.length;
  const parts = [Buffer.from('PAR1')];
  let offset = 4;
  const rowGroups = [];
  for (let lo = 0; lo < nrows; lo += opts.rowGroupSize) {
    const hi = Math.min(nrows, lo + opts.rowGroupSize);
    const chunks = [];
    let total = 0;
    for (const col of opts.columns) {
      const c = columnChunk(opts, col, lo, hi, offset);
      parts.push(c.bytes);
      chunks.push([[2, T.I64, offset], [3, T.STRUCT, c.meta]]);
      offset += c.bytes.length; total += c.uncompressed;
    }
    rowGroups.push([[1, T.LIST, [T.STRUCT, chunks]], [2, T.I64, total], [3, T.I64, hi - lo]]);
  }
  const schema = [[[4, T.BINARY, 'schema'], [5, T.I32, opts.columns.length]]];
  for (const col of opts.columns) {
    schema.push([[1, T.I32, TYPES[col.type]], [3, T.I32, col.repeated ? 2 : col.optional ? 1 : 0], [4, T.BINARY, col.name],
      [6, T.I32, col.string ? 0 : undefined]]);
  }
  const footer = new Bytes();
  thriftStruct(footer, [[1, T.I32, 2], [2, T.LIST, [T.STRUCT, schema]], [3, T.I64, nrows],
    [4, T.LIST, [T.STRUCT, rowGroups]], [6, T.BINARY, 'scout parquet-handwriter (test only)']]);
  const f = footer.concat();
  const tail = Buffer.alloc(8); tail.writeUInt32LE(f.length); tail.write('PAR1', 4);
  parts.push(f, tail);
  return Buffer.concat(parts);
}

export const gzipCompress = (b) => zlib.gzipSync(b);
export const identity = (b) => b;
