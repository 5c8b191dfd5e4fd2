#!/usr/bin/env node
// hf-encode.js TOKENIZER_JSON [FILE.jsonl|-] [--field NAME]
//
// The Hugging Face tokenizers reference (Rust, through npm @anush008/tokenizers@0.6.0,
// installed by `make deps` into data/node) that the tokenizer tests compare against.
// For every line of the JSONL input (stdin when FILE is absent or "-"), prints the ids of
//   tokenizer.encode(doc[field], null, {addSpecialTokens: false})
// space-separated, one output line per document (an empty line for an empty text).
// No BOS/EOS. Example:
//   echo '{"text":"Hello world"}' | node scripts/hf-encode.js data/tokenizers/llama2.json
//   -> 15043 3186
// Set RAYON_NUM_THREADS=1 for single-thread timing.
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');

function die(msg, code = 1) {
  process.stderr.write(`hf-encode: error: ${msg}\n`);
  process.exit(code);
}

const args = process.argv.slice(2);
let field = 'text';
const pos = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--field') field = args[++i];
  else if (args[i] === '-h' || args[i] === '--help') {
    process.stdout.write('usage: hf-encode.js TOKENIZER_JSON [FILE.jsonl|-] [--field NAME]\n');
    process.exit(0);
  } else pos.push(args[i]);
}
if (pos.length < 1 || pos.length > 2 || field === undefined)
  die('usage: hf-encode.js TOKENIZER_JSON [FILE.jsonl|-] [--field NAME]', 2);

let Tokenizer;
try {
  ({ Tokenizer } = require(path.join(__dirname, '..', 'data', 'node', 'node_modules', '@anush008', 'tokenizers')));
} catch (e) {
  try {
    ({ Tokenizer } = require('@anush008/tokenizers'));
  } catch (e2) {
    die(`cannot load @anush008/tokenizers (run make deps): ${e.message}`);
  }
}

const tokFile = pos[0];
const inName = pos[1] === undefined || pos[1] === '-' ? '-' : pos[1];
let tok;
try {
  tok = Tokenizer.fromFile(tokFile);
} catch (e) {
  die(`${tokFile}: cannot load tokenizer: ${e.message}`);
}

process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

(async () => {
  const input = inName === '-' ? process.stdin : fs.createReadStream(inName);
  input.on('error', (e) => die(`${inName}: ${e.message}`));
  const rl = readline.createInterface({ input, crlfDelay: Infinity });
  let ln = 0;
  let buf = '';
  for await (const line of rl) {
    ln++;
    let doc;
    try {
      doc = JSON.parse(line);
    } catch (e) {
      die(`${inName}:${ln}: not valid JSON: ${e.message}`, 3);
    }
    const text = doc === null ? undefined : doc[field];
    if (typeof text !== 'string') die(`${inName}:${ln}: field "${field}" is missing or not a string`, 3);
    const enc = await tok.encode(text, null, { addSpecialTokens: false });
    buf += enc.getIds().join(' ') + '\n';
    if (buf.length >= 1 << 16) {
      if (!process.stdout.write(buf)) await new Promise((r) => process.stdout.once('drain', r));
      buf = '';
    }
  }
  process.stdout.write(buf);
})().catch((e) => die(e.stack || String(e)));
