// make_parquet.mjs: a FineWeb-Edu-shaped Parquet file for the scout-fetch tests, written by an
// independent writer (hyparquet-writer, from `make deps`), plus the rows it holds as JSON lines.
//
//   node make_parquet.mjs OUT.parquet EXPECTED.jsonl ROWS SEED [ROW_GROUP_ROWS]
//
// Columns: text (STRING), id (STRING), url (STRING), score (DOUBLE). Texts mix ASCII, quotes,
// backslashes, newlines, tabs, control characters and multi-byte UTF-8, with lengths from 0 to a few
// KB, so the JSON escaping of every row is exercised. EXPECTED.jsonl holds
// {"text","id","url","score"} per row, in row order, for the test to compare (as parsed JSON).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

const [out, expected, rowsArg, seedArg, groupArg] = process.argv.slice(2)
if (!out || !expected || !rowsArg || !seedArg) {
  console.error('usage: node make_parquet.mjs OUT.parquet EXPECTED.jsonl ROWS SEED [ROW_GROUP_ROWS]')
  process.exit(2)
}
const modules = process.env.NODE_PARQUET || join(process.cwd(), 'data/node-parquet/node_modules')
const { parquetWriteFile } = await import(join(modules, 'hyparquet-writer/src/node.js'))

// xorshift32: the same file for the same seed on every machine.
let state = (Number(seedArg) * 2654435761) >>> 0 || 1
const next = () => {
  state ^= state << 13; state >>>= 0
  state ^= state >>> 17
  state ^= state << 5; state >>>= 0
  return state / 4294967296
}
const pieces = ['the ', 'quick ', 'brown ', 'fox ', 'jumps ', '"quoted" ', 'back\\slash ', 'new\nline ', 'tab\t',
  'ctrl\u0001 ', 'café ', 'naïve ', '日本語 ', 'emoji 🎉 ', 'Ω≈ç√ ', '\r\n', '</script> ', 'x'.repeat(200) + ' ']
const rows = Number(rowsArg)
const text = [], id = [], url = [], score = []
for (let i = 0; i < rows; i++) {
  let t = ''
  const words = Math.floor(next() * next() * 600)
  for (let w = 0; w < words; w++) t += pieces[Math.floor(next() * pieces.length)]
  text.push(`doc ${i}: ${t}`)
  id.push(`<urn:uuid:${seedArg}-${i}>`)
  url.push(`https://example.org/${seedArg}/${i}?q="a b"`)
  score.push(Math.round(next() * 5e6) / 1e6)
}
parquetWriteFile({
  filename: out,
  columnData: [
    { name: 'text', data: text, type: 'STRING' },
    { name: 'id', data: id, type: 'STRING' },
    { name: 'url', data: url, type: 'STRING' },
    { name: 'score', data: score, type: 'DOUBLE' },
  ],
  rowGroupSize: Number(groupArg || 1000),
})
writeFileSync(expected, text.map((t, i) => JSON.stringify({ text: t, id: id[i], url: url[i], score: score[i] }) + '\n').join(''))
