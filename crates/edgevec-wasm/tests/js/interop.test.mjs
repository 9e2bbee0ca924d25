// One .evec format everywhere: an index built by the native `edgevec` CLI loads in the
// package and answers with the same ids, and bytes saved by the package pass `edgevec verify`
// and answer the CLI's `edgevec search` with the same ids.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { env, gaussian, importPackage, readIvecs, row, writeFvecs } from './helpers.mjs';

const CLI = env('EDGEVEC_CLI');
const DIR = path.join(env('EDGEVEC_SCRATCH'), 'interop');
mkdirSync(DIR, { recursive: true });
const { init, EdgeVec } = await importPackage();
await init();

const DIM = 48;
const N = 3000;
const K = 10;
const EF = 64;
const data = gaussian(N, DIM, 21);
const queries = gaussian(40, DIM, 22);
const baseFile = path.join(DIR, 'base.fvecs');
const queryFile = path.join(DIR, 'queries.fvecs');
await writeFvecs(baseFile, data, DIM);
await writeFvecs(queryFile, queries, DIM);

function cli(...args) {
  return execFileSync(CLI, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function cliSearch(index, name) {
  const out = path.join(DIR, `${name}.ivecs`);
  cli('search', '--index', index, '--queries', queryFile, '--k', String(K), '--ef', String(EF), '--output', out);
  return readIvecs(out);
}

function packageSearch(db) {
  const answers = [];
  for (let i = 0; i < queries.length / DIM; i++) answers.push(db.search(row(queries, DIM, i), K, { ef: EF }).map((h) => h.id));
  return answers;
}

const CASES = [
  ['l2', 'none'],
  ['cosine', 'u8'],
  ['cosine', 'i8'],
];

for (const [metric, quantization] of CASES) {
  test(`CLI build -> package load (${metric}, ${quantization}): same ids`, async () => {
    const index = path.join(DIR, `cli-${metric}-${quantization}.evec`);
    cli('build', '--input', baseFile, '--output', index, '--metric', metric, '--quantization', quantization,
      '--m', '12', '--ef-construction', '100', '--threads', '1', '--seed', '5');
    const db = EdgeVec.load(readFileSync(index));
    assert.deepEqual([db.size, db.dimensions, db.metric, db.quantization, db.m], [N, DIM, metric, quantization, 12]);
    const fromCli = await cliSearch(index, `cli-${metric}-${quantization}`);
    assert.deepEqual(packageSearch(db), fromCli);
  });

  test(`package save -> CLI verify and search (${metric}, ${quantization}): same ids`, async () => {
    const db = new EdgeVec({ dimensions: DIM, metric, quantization, m: 12, efConstruction: 100, seed: 6 });
    db.insertBatch(Array.from({ length: N }, (_, i) => i), data);
    for (let i = 0; i < N; i += 10) db.delete(i); // tombstones travel too
    const index = path.join(DIR, `pkg-${metric}-${quantization}.evec`);
    writeFileSync(index, db.save());
    cli('verify', '--index', index);
    const info = JSON.parse(cli('info', '--index', index));
    assert.deepEqual(
      [info.count, info.deleted, info.dimensions, info.metric, info.quantization, info.m, info.ef_construction],
      [db.size, db.deletedCount, DIM, metric, quantization, 12, 100],
    );
    const fromCli = await cliSearch(index, `pkg-${metric}-${quantization}`);
    assert.deepEqual(fromCli, packageSearch(db));
    assert.ok(fromCli.flat().every((id) => id % 10 !== 0), 'deleted ids stay deleted');
  });
}

test('the CLI rejects bytes the package damaged on purpose (same checks on both sides)', () => {
  const db = new EdgeVec({ dimensions: 4 });
  db.insert(1, new Float32Array([1, 2, 3, 4]));
  const bytes = db.save();
  bytes[bytes.length - 40] ^= 1;
  const index = path.join(DIR, 'damaged.evec');
  writeFileSync(index, bytes);
  assert.throws(() => cli('verify', '--index', index), (e) => e.status === 1);
  assert.throws(() => EdgeVec.load(bytes), (e) => e.code === 'CORRUPTED');
});
