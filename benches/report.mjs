// Writes BENCHMARKS.md from the JSON lines benches/run.mjs collected, and prints the targets.
//
//   node benches/report.mjs <results.jsonl> <BENCHMARKS.md>
//
// Exits 1 when a benchmark step failed (the page lists them); a missed target is a result.

import fs from 'node:fs';
import { figures } from './report/figures.mjs';
import { page, summary } from './report/page.mjs';

const [resultsPath, pagePath] = process.argv.slice(2);
if (!resultsPath || !pagePath) {
  console.error('usage: node benches/report.mjs <results.jsonl> <BENCHMARKS.md>');
  process.exit(2);
}

const records = fs
  .readFileSync(resultsPath, 'utf8')
  .split('\n')
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line));
const f = figures(records);
fs.writeFileSync(pagePath, page(f));
console.log(summary(f));
process.exit(f.errors.length ? 1 : 0);
