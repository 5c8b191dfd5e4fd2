#!/usr/bin/env node
// parquet-fixtures.mjs: Parquet files for the reader's tests and benchmark, made offline by
// independent writers, with the values each writer was given.
//
//   node scripts/parquet-fixtures.mjs gen DIR            every fixture: DIR/NAME.parquet + DIR/NAME.expect.json
//   node scripts/parquet-fixtures.mjs seeds DIR          small files of every kind, for the fuzzer's seed corpus
//   node scripts/parquet-fixtures.mjs compare EXPECT COLS < out.jsonl
//        checks parquet-cat's JSONL for columns COLS (comma-separated) against what the writer was given
//        (rows whose first column is null are skipped, as parquet-cat does); exits 1 on the first difference
//   node scripts/parquet-fixtures.mjs verify FILE.parquet EXPECT   hyparquet (an independent reader) reads FILE
//        and must find exactly the expected rows: proves a hand-built file is valid Parquet
//   node scripts/parquet-fixtures.mjs bench FILE.parquet MB  a FineWeb-like file of about MB megabytes of text
//        (SNAPPY, 1000-row groups, v1 pages, text dictionary-then-PLAIN as pyarrow writes it)
//   node scripts/parquet-fixtures.mjs hyparquet-cat FILE.parquet   text column as JSONL, through hyparquet
//   node scripts/parquet-fixtures.mjs duckdb-json FILE.parquet OUT  DuckDB (1 thread) COPY of text to JSON lines;
//        prints the wall and CPU seconds it took
//
// Writers (npm, installed under data/node-parquet, see tests/parquet.bats):
//   DuckDB @duckdb/node-api 1.5.6-r.1: v1 data pages; PLAIN strings, dictionary for low-cardinality
//     columns; PARQUET_VERSION V2 gives DELTA_LENGTH_BYTE_ARRAY strings; SNAPPY/ZSTD/GZIP/UNCOMPRESSED.
//   hyparquet-writer 0.17.0: DATA_PAGE_V2, 1000-row groups, dictionary + RLE_DICTIONARY when it pays,
//     per-column encodings (DELTA_LENGTH_BYTE_ARRAY, DELTA_BINARY_PACKED), REQUIRED columns.
//   scripts/parquet-handwriter.mjs: pyarrow's dictionary-then-PLAIN chunks and refusal cases.
// Expected values: EXPECT.json = {"types": {column: type}, "rows": [{column: value or null}]}.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import { writeParquet, gzipCompress, identity } from './parquet-handwriter.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NODE_DIR = process.env.PARQUET_NODE_DIR || path.join(ROOT, 'data/node-parquet');
const requireFrom = createRequire(path.join(NODE_DIR, 'package.json'));
const load = async (spec) => import(pathToFileURL(requireFrom.resolve(spec)).href);
const die = (msg) => { process.stderr.write(`parquet-fixtures: error: ${msg}\n`); process.exit(1); };

// ---- data ---------------------------------------------------------------------------------------
// mulberry32: a small deterministic PRNG, so fixtures are identical on every run.
function rng(seed) {
  let a = seed >>> 0;
  return () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}
const WORDS = ('the of and to in is that for it as was with be by on not he this are or his from at which but have an they ' +
  'you were her all she there would their we him been has when who will more no if out so said what up its about into ' +
  'than them can only other new some could time these two may then do first any my now such like our over man me even ' +
  'most made after also did many before must through back years where much your way well down should because each just ' +
  'photosynthesis mitochondria curriculum algebra students teachers learning chapter example theorem education').split(' ');
const SPECIAL = [
  '', // empty string
  'Grüße aus Köln, 你好世界, 😀🎉 emoji, עברית, русский, e\u0301 (combining), U+2028[\u2028] U+FEFF[\ufeff] \u{10FFFF}',
  'tab\there\nnewline\r\u0001\u001f\u007f "quotes" back\\slash /slash \b\f',
  'NUL inside: a\u0000b',
  ' ', // one space
];
function makeDoc(r, meanBytes) {
  const n = Math.max(1, Math.round((meanBytes / 5.6) * (0.3 + 1.4 * r()))); // words average 5.6 bytes with a space
  const w = [];
  for (let i = 0; i < n; i++) w.push(WORDS[Math.floor(r() * WORDS.length)]);
  let s = w.join(' ');
  if (r() < 0.2) s += '\n\n' + SPECIAL[1 + Math.floor(r() * (SPECIAL.length - 1))];
  return s;
}
const DUMPS = ['CC-MAIN-2013-20', 'CC-MAIN-2019-04', 'CC-MAIN-2021-49', 'CC-MAIN-2024-10'];
// FineWeb-Edu's columns plus one of each remaining physical type.
const TYPES = { text: 'STRING', id: 'STRING', dump: 'STRING', url: 'STRING', language_score: 'DOUBLE',
  token_count: 'INT64', score: 'DOUBLE', int_score: 'INT64', n32: 'INT32', f32: 'FLOAT', flag: 'BOOLEAN' };

// rows: n FineWeb-like rows. opts: meanBytes, nullEvery (text/url nulls), repetitive (few distinct
// texts, so writers choose a dictionary), big (sizes in bytes of extra multi-MB texts), seed.
function makeRows(n, { meanBytes = 300, nullEvery = 0, repetitive = false, big = [], seed = 1 } = {}) {
  const r = rng(seed);
  const pool = repetitive ? Array.from({ length: 23 }, (_, i) => `${i}: ${makeDoc(r, 80)}`).concat(SPECIAL) : null;
  const rows = [];
  for (let i = 0; i < n; i++) {
    let text = i < SPECIAL.length ? SPECIAL[i] : pool ? pool[Math.floor(r() * pool.length)] : makeDoc(r, meanBytes);
    if (nullEvery && i % nullEvery === nullEvery - 1) text = null;
    const score = Math.round(r() * 5e6) / 1e6;
    rows.push({ text, id: `<urn:uuid:${(i * 2654435761 >>> 0).toString(16).padStart(8, '0')}-${seed}>`,
      dump: DUMPS[Math.floor(r() * DUMPS.length)],
      url: nullEvery && i % (nullEvery + 2) === 1 ? null : `https://example.org/${i}/${WORDS[i % WORDS.length]}?q=é`,
      language_score: r(), token_count: Math.floor(r() * 2 ** 40), score, int_score: Math.round(score),
      n32: Math.floor((r() - 0.5) * 2 ** 32), f32: Math.fround((r() - 0.5) * 1e4), flag: r() < 0.3 });
  }
  big.forEach((bytes, k) => { // multi-MB documents at spread positions
    const rb = rng(seed + 100 + k); let s = '';
    while (s.length < bytes) s += makeDoc(rb, 4000) + '\n';
    rows[Math.floor(((k + 1) * n) / (big.length + 1))].text = s.slice(0, bytes) + ' 😀end';
  });
  return rows;
}

function writeExpect(file, rows) {
  fs.writeFileSync(file, JSON.stringify({ types: TYPES, rows }));
}

// ---- writers ------------------------------------------------------------------------------------
function zstdCompress(buf) {
  try { return execFileSync('zstd', ['-q', '-c', '-3'], { input: buf, maxBuffer: 1 << 30 }); }
  catch (e) { die(`the zstd command is needed to make ZSTD fixtures with hyparquet-writer (apt-get install zstd): ${e.message}`); }
}

async function duckdbWrite(dir, name, rows, { codec, v2 = false }) {
  const { DuckDBInstance } = await load('@duckdb/node-api');
  const tmp = path.join(dir, `${name}.input.jsonl`);
  fs.writeFileSync(tmp, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  const c = await db.connect();
  const cols = "{text: 'VARCHAR', id: 'VARCHAR', dump: 'VARCHAR', url: 'VARCHAR', language_score: 'DOUBLE', " +
    "token_count: 'BIGINT', score: 'DOUBLE', int_score: 'BIGINT', n32: 'INTEGER', f32: 'FLOAT', flag: 'BOOLEAN'}";
  const out = path.join(dir, `${name}.parquet`);
  await c.run(`COPY (SELECT * FROM read_json('${tmp}', columns=${cols}, format='newline_delimited', maximum_object_size=100000000)) ` +
    `TO '${out}' (FORMAT parquet, COMPRESSION ${codec}, ROW_GROUP_SIZE 2048${v2 ? ", PARQUET_VERSION 'V2'" : ''})`);
  c.closeSync?.();
  fs.unlinkSync(tmp);
  writeExpect(path.join(dir, `${name}.expect.json`), rows);
}

async function hyparquetWrite(dir, name, rows, { codec, requiredUrl = false }) {
  const { parquetWriteFile } = await load('hyparquet-writer');
  const compressors = { GZIP: (b) => new Uint8Array(zlib.gzipSync(b)), ZSTD: (b) => new Uint8Array(zstdCompress(b)) };
  const col = (name, type, extra = {}) => ({ name, type, data: rows.map((r) => r[name]), ...extra });
  const big = (name) => ({ name, type: 'INT64', data: rows.map((r) => (r[name] === null ? null : BigInt(r[name]))) });
  parquetWriteFile({
    filename: path.join(dir, `${name}.parquet`), codec, compressors, rowGroupSize: 1000, statistics: false,
    columnData: [
      col('text', 'STRING'), // unique texts: PLAIN (repetitive ones: dictionary)
      col('id', 'STRING', { nullable: false }), // REQUIRED
      col('dump', 'STRING'), // 4 values: dictionary + RLE_DICTIONARY
      col('url', 'STRING', { encoding: 'DELTA_LENGTH_BYTE_ARRAY', nullable: !requiredUrl }),
      col('language_score', 'DOUBLE'), big('token_count'), col('score', 'DOUBLE', { nullable: false }),
      { ...big('int_score'), encoding: 'DELTA_BINARY_PACKED' },
      col('n32', 'INT32', { encoding: 'DELTA_BINARY_PACKED' }), col('f32', 'FLOAT'), col('flag', 'BOOLEAN'),
    ],
  });
  writeExpect(path.join(dir, `${name}.expect.json`), rows);
}

const HAND_CODECS = { SNAPPY: null, GZIP: gzipCompress, ZSTD: zstdCompress, UNCOMPRESSED: identity };
async function handCompressor(codec) {
  if (codec !== 'SNAPPY') return HAND_CODECS[codec] ?? identity;
  const { snappyCompress } = await import(pathToFileURL(path.join(path.dirname(requireFrom.resolve('hyparquet-writer')), 'snappy.js')).href);
  return (b) => Buffer.from(snappyCompress(new Uint8Array(b)));
}

// FineWeb-like columns for the hand writer (all OPTIONAL, as datatrove's files).
function handColumns(rows, { textDictionary = true, stringCols = ['text', 'id', 'dump', 'url'] } = {}) {
  const s = (name, dictionary) => ({ name, type: 'BYTE_ARRAY', string: true, optional: true, dictionary, values: rows.map((r) => r[name]) });
  const cols = stringCols.map((n) => s(n, n === 'text' ? textDictionary : true));
  cols.push({ name: 'language_score', type: 'DOUBLE', optional: true, values: rows.map((r) => r.language_score) },
    { name: 'token_count', type: 'INT64', optional: true, values: rows.map((r) => r.token_count) },
    { name: 'score', type: 'DOUBLE', optional: true, dictionary: true, values: rows.map((r) => r.score) },
    { name: 'int_score', type: 'INT64', optional: true, dictionary: true, values: rows.map((r) => r.int_score) });
  return cols;
}

async function handWrite(dir, name, rows, opts) {
  const compress = await handCompressor(opts.codec);
  fs.writeFileSync(path.join(dir, `${name}.parquet`), writeParquet({ columns: handColumns(rows), compress, ...opts }));
  writeExpect(path.join(dir, `${name}.expect.json`), rows.map((r) => ({ text: r.text, id: r.id, dump: r.dump, url: r.url,
    language_score: r.language_score, token_count: r.token_count, score: r.score, int_score: r.int_score })));
}

// ---- commands -----------------------------------------------------------------------------------
async function gen(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const base = makeRows(5000, { nullEvery: 17, seed: 1 });
  for (const codec of ['snappy', 'zstd', 'gzip', 'uncompressed']) {
    await duckdbWrite(dir, `duckdb-v1-${codec}`, base, { codec });
    await duckdbWrite(dir, `duckdb-v2-${codec}`, base, { codec, v2: true });
  }
  await duckdbWrite(dir, 'duckdb-dict-text', makeRows(3000, { repetitive: true, nullEvery: 11, seed: 2 }), { codec: 'zstd' });
  await duckdbWrite(dir, 'duckdb-big', makeRows(300, { big: [3 << 20, 5 << 20], seed: 3 }), { codec: 'snappy' });

  const hrows = makeRows(2500, { nullEvery: 13, seed: 4 });
  for (const codec of ['SNAPPY', 'ZSTD', 'GZIP', 'UNCOMPRESSED']) {
    await hyparquetWrite(dir, `hyparquet-${codec.toLowerCase()}`, hrows, { codec });
    await hyparquetWrite(dir, `hyparquet-dict-${codec.toLowerCase()}`, makeRows(2500, { repetitive: true, nullEvery: 7, seed: 5 }), { codec });
  }
  await hyparquetWrite(dir, 'hyparquet-big', makeRows(200, { big: [4 << 20], seed: 6 }), { codec: 'ZSTD', requiredUrl: true });
  await hyparquetWrite(dir, 'hyparquet-required', makeRows(1500, { seed: 7 }), { codec: 'SNAPPY', requiredUrl: true });

  // pyarrow's dictionary-then-PLAIN fallback: a 16 KiB dictionary limit makes every 1000-row group
  // switch to PLAIN after a few dozen documents; small pages give several pages of each kind.
  const frows = makeRows(3500, { meanBytes: 600, nullEvery: 19, seed: 8 });
  for (const codec of ['SNAPPY', 'ZSTD', 'GZIP', 'UNCOMPRESSED'])
    await handWrite(dir, `hand-fallback-v1-${codec.toLowerCase()}`, frows, { codec, dictLimit: 16 << 10, pageSize: 64 << 10 });
  // The same as data pages v2; the SNAPPY file stores its values uncompressed (is_compressed = false),
  // names its encodings PLAIN_DICTIONARY (the pre-2.0 names) and ends each chunk with an index page.
  await handWrite(dir, 'hand-fallback-v2-snappy', frows, { codec: 'SNAPPY', pageVersion: 2, dictLimit: 16 << 10, pageSize: 64 << 10,
    v2Uncompressed: true, dictDataEncoding: 'PLAIN_DICTIONARY', dictPageEncoding: 'PLAIN_DICTIONARY', indexPageAfterData: true });
  await handWrite(dir, 'hand-fallback-v2-zstd', frows, { codec: 'ZSTD', pageVersion: 2, dictLimit: 16 << 10, pageSize: 64 << 10 });
  await handWrite(dir, 'hand-big', makeRows(150, { big: [6 << 20], seed: 9 }), { codec: 'SNAPPY', dictLimit: 1 << 20 });
  // Bytes that are not UTF-8 (tests/parquet.bats knows the JSON each must become).
  const raw = [[0x6f, 0x6b], [0xff, 0xfe], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0x61, 0xf0, 0x9f, 0x98]].map((b) => Buffer.from(b));
  fs.writeFileSync(path.join(dir, 'hand-invalid-utf8.parquet'), writeParquet({ codec: 'SNAPPY', compress: await handCompressor('SNAPPY'),
    columns: [{ name: 'text', type: 'BYTE_ARRAY', string: true, values: raw }] }));
  await genRefusals(dir);
}

// Small files of every kind (a few KB each): the fuzzer's seed corpus (tests/fuzz/corpus).
async function seeds(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const small = makeRows(40, { meanBytes: 30, nullEvery: 5, seed: 12 });
  const rep = makeRows(40, { repetitive: true, nullEvery: 6, seed: 13 });
  for (const codec of ['snappy', 'zstd', 'gzip', 'uncompressed']) {
    await duckdbWrite(dir, `duckdb-v1-${codec}`, small, { codec });
    await duckdbWrite(dir, `duckdb-v2-${codec}`, small, { codec, v2: true });
  }
  for (const codec of ['SNAPPY', 'ZSTD', 'GZIP', 'UNCOMPRESSED']) {
    await hyparquetWrite(dir, `hyparquet-${codec.toLowerCase()}`, small, { codec });
    await hyparquetWrite(dir, `hyparquet-dict-${codec.toLowerCase()}`, rep, { codec });
    await handWrite(dir, `hand-fallback-v1-${codec.toLowerCase()}`, small, { codec, rowGroupSize: 15, dictLimit: 200, pageSize: 300 });
    await handWrite(dir, `hand-fallback-v2-${codec.toLowerCase()}`, small, { codec, pageVersion: 2, rowGroupSize: 15, dictLimit: 200,
      pageSize: 300, v2Uncompressed: codec === 'SNAPPY', indexPageAfterData: true });
  }
  for (const f of fs.readdirSync(dir)) if (f.endsWith('.expect.json')) fs.unlinkSync(path.join(dir, f));
}

// Valid Parquet that the reader must refuse, each with the word its message must contain.
async function genRefusals(dir) {
  const rows = makeRows(50, { seed: 10 });
  const text = { name: 'text', type: 'BYTE_ARRAY', string: true, optional: true, values: rows.map((r) => r.text) };
  const hand = (name, opts) => fs.writeFileSync(path.join(dir, `refuse-${name}.parquet`),
    writeParquet({ compress: identity, codec: 'UNCOMPRESSED', ...opts }));
  for (const codec of ['LZ4_RAW', 'BROTLI', 'LZO', 'LZ4']) hand(codec.toLowerCase(), { columns: [text], codec });
  hand('repeated', { columns: [{ ...text, repeated: true }] });
  const { parquetWriteFile } = await load('hyparquet-writer');
  for (const encoding of ['DELTA_BYTE_ARRAY', 'BYTE_STREAM_SPLIT']) {
    const type = encoding === 'BYTE_STREAM_SPLIT' ? 'DOUBLE' : 'STRING';
    parquetWriteFile({ filename: path.join(dir, `refuse-${encoding.toLowerCase()}.parquet`), statistics: false,
      columnData: [{ name: 'text', type, encoding, data: rows.map((r) => (type === 'DOUBLE' ? r.score : r.text)) }] });
  }
  // Encrypted footers end in "PARE" instead of "PAR1".
  const enc = fs.readFileSync(path.join(dir, 'refuse-lz4.parquet'));
  enc.write('PARE', enc.length - 4);
  fs.writeFileSync(path.join(dir, 'refuse-encrypted.parquet'), enc);
}

// Values equal as the JSON printer promises: strings exactly, numbers by value (FLOAT as float32).
function same(type, want, got) {
  if (want === null || got === null) return want === got;
  if (type === 'FLOAT') return typeof got === 'number' && Math.fround(got) === Math.fround(want);
  if (type === 'DOUBLE' && !Number.isFinite(want)) return got === null;
  return want === got;
}

function compare(expectFile, cols) {
  const { types, rows } = JSON.parse(fs.readFileSync(expectFile, 'utf8'));
  const names = cols.split(',');
  const want = rows.filter((r) => r[names[0]] !== null);
  const lines = fs.readFileSync(0, 'utf8').split('\n');
  if (lines.pop() !== '') die('output does not end with a newline');
  if (lines.length !== want.length) die(`${lines.length} lines, expected ${want.length}`);
  lines.forEach((line, i) => {
    let got;
    try { got = JSON.parse(line); } catch (e) { die(`line ${i + 1} is not JSON: ${e.message}`); }
    const keys = Object.keys(got);
    if (keys.join(',') !== cols) die(`line ${i + 1}: keys ${keys.join(',')}, expected ${cols}`);
    for (const k of names) {
      if (!same(types[k], want[i][k], got[k])) {
        const show = (v) => JSON.stringify(v)?.slice(0, 200);
        die(`line ${i + 1}, column ${k}: got ${show(got[k])}, expected ${show(want[i][k])}`);
      }
    }
  });
  process.stdout.write(`ok ${lines.length} rows\n`);
}

async function verify(file, expectFile) {
  const { parquetReadObjects, asyncBufferFromFile } = await load('hyparquet');
  const { compressors } = await load('hyparquet-compressors');
  const { types, rows } = JSON.parse(fs.readFileSync(expectFile, 'utf8'));
  const got = await parquetReadObjects({ file: await asyncBufferFromFile(file), compressors, utf8: true });
  if (got.length !== rows.length) die(`hyparquet reads ${got.length} rows, expected ${rows.length}`);
  got.forEach((g, i) => {
    for (const k of Object.keys(rows[i])) {
      const v = typeof g[k] === 'bigint' ? Number(g[k]) : g[k] ?? null;
      if (!same(types[k], rows[i][k], v)) die(`hyparquet: row ${i}, column ${k}: ${JSON.stringify(v)?.slice(0, 100)} != ${JSON.stringify(rows[i][k])?.slice(0, 100)}`);
    }
  });
  process.stdout.write(`hyparquet ok: ${got.length} rows\n`);
}

// Documents of about 4.7 KB cut from real English (the offline corpora `make deps` builds, spec/data.md
// §7), so page compression behaves as on web text; synthetic words when the corpora are absent.
function realText(totalBytes) {
  const dir = path.join(ROOT, 'data/corpora');
  const files = ['sotu.jsonl', 'brown.jsonl', 'moby-dick.jsonl'].map((f) => path.join(dir, f)).filter((f) => fs.existsSync(f));
  if (!files.length) return null;
  const text = files.flatMap((f) => fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).text)).join('\n\n');
  const r = rng(11), docs = [];
  let total = 0;
  while (total < totalBytes) {
    const len = Math.round(4700 * (0.3 + 1.4 * r()));
    const at = Math.floor(r() * (text.length - len));
    docs.push(text.slice(at, at + len));
    total += len;
  }
  return docs;
}

async function bench(file, mb) {
  const real = realText(mb * 1e6);
  const rows = makeRows(real ? real.length : Math.ceil((mb * 1e6) / 4700), { meanBytes: 4700, seed: 11 });
  if (real) rows.forEach((r, i) => { r.text = real[i]; });
  const compress = await handCompressor('SNAPPY');
  // 1 MiB dictionary limit and 1 MiB pages, as pyarrow's defaults: text falls back to PLAIN after
  // about 220 documents of each 1000-row group.
  fs.writeFileSync(file, writeParquet({ columns: handColumns(rows), compress, codec: 'SNAPPY', dictLimit: 1 << 20, pageSize: 1 << 20 }));
  const text = rows.reduce((n, r) => n + Buffer.byteLength(r.text, 'utf8'), 0);
  process.stdout.write(`${rows.length} ${text} ${real ? 'english' : 'synthetic'}\n`);
}

async function hyparquetCat(file) {
  const { parquetRead, asyncBufferFromFile } = await load('hyparquet');
  const out = fs.openSync('/dev/stdout', 'w');
  await parquetRead({ file: await asyncBufferFromFile(file), columns: ['text'], rowFormat: 'object', utf8: true,
    onComplete: (rows) => { let s = ''; for (const r of rows) s += `{"text":${JSON.stringify(r.text)}}\n`; fs.writeSync(out, s); } });
}

// What a user would otherwise run offline: DuckDB, one thread, text column to JSON lines. Prints the
// wall and CPU seconds of the COPY alone (the database start-up is not counted).
async function duckdbJson(file, out) {
  const { DuckDBInstance } = await load('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  const c = await db.connect();
  const t0 = process.hrtime.bigint(), cpu0 = process.cpuUsage();
  await c.run(`COPY (SELECT text FROM read_parquet('${file}')) TO '${out}' (FORMAT json)`);
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(`${Number(process.hrtime.bigint() - t0) / 1e9} ${(cpu.user + cpu.system) / 1e6}\n`);
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'gen' && args.length === 1) await gen(args[0]);
else if (cmd === 'seeds' && args.length === 1) await seeds(args[0]);
else if (cmd === 'compare' && args.length === 2) compare(args[0], args[1]);
else if (cmd === 'verify' && args.length === 2) await verify(args[0], args[1]);
else if (cmd === 'bench' && args.length === 2) await bench(args[0], Number(args[1]));
else if (cmd === 'hyparquet-cat' && args.length === 1) await hyparquetCat(args[0]);
else if (cmd === 'duckdb-json' && args.length === 2) await duckdbJson(args[0], args[1]);
else die('usage: parquet-fixtures.mjs gen DIR | seeds DIR | compare EXPECT COLS | verify FILE EXPECT | bench FILE MB | hyparquet-cat FILE | duckdb-json FILE OUT');
