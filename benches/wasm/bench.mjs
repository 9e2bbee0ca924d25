// Node benchmark: edgevec-wasm (this repository's npm package) against the npm packages
// `edgevec` (the original EdgeVec), `hnswlib-wasm` and `voy-search` on the same data.
// Run it with benches/wasm/run.sh, which builds the package and installs the others into a
// scratch directory (never committed). Not a test: it prints a table and asserts nothing.
//
//   node benches/wasm/bench.mjs [--n 10000] [--dim 384] [--queries 200] [--k 10] [--ef 64]
//                               [--clusters 200] [--spread 1.0]
//                               [--base BASE.fvecs --query-file QUERIES.fvecs]   (real data)
//
// Data: clustered synthetic vectors (200 overlapping clusters; per dimension the noise and the
// centres both have standard deviation 0.58), normalized, so cosine and L2
// rankings agree (voy-search only does Euclidean k-d tree search). Queries come from the same
// distribution but are not in the data. Recall@k is against exact brute force. Every library
// builds on one thread with M = 16, efConstruction = 200 and searches with ef = 64 where it
// has those parameters.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
// mulberry32, the seeded generator the package's JavaScript tests use.
import { rng } from '../../crates/edgevec-wasm/tests/js/helpers.mjs';

// Only the table goes to stdout (hnswlib-wasm logs through console.log).
const print = (line) => process.stdout.write(`${line}\n`);
console.log = console.error;

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith('--') ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []),
);
let N = Number(args.n ?? 10000);
let DIM = Number(args.dim ?? 384);
let Q = Number(args.queries ?? 200);
const K = Number(args.k ?? 10);
const EF = Number(args.ef ?? 64);
const CLUSTERS = Number(args.clusters ?? 200);
const SPREAD = Number(args.spread ?? 1.0);
const M = 16;
const EF_CONSTRUCTION = 200;
const PEERS = process.env.BENCH_PEERS; // node_modules folder with the other packages
const PKG = process.env.EDGEVEC_PKG; // this repository's built package

function clustered(n, seed, centers) {
  const r = rng(seed);
  const gauss = () => r() + r() + r() + r() - 2;
  const out = new Float32Array(n * DIM);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(r() * centers.length / DIM);
    let norm = 0;
    for (let j = 0; j < DIM; j++) {
      const x = centers[c * DIM + j] + SPREAD * gauss();
      out[i * DIM + j] = x;
      norm += x * x;
    }
    norm = Math.sqrt(norm);
    for (let j = 0; j < DIM; j++) out[i * DIM + j] /= norm;
  }
  return out;
}

/** The first `n` rows of an .fvecs file, normalized. */
async function fvecs(file, n) {
  const buf = await readFile(file);
  const dim = buf.readInt32LE(0);
  const rows = Math.min(n, buf.length / (4 + 4 * dim));
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < rows; i++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) {
      const x = buf.readFloatLE(i * (4 + 4 * dim) + 4 + 4 * j);
      out[i * dim + j] = x;
      norm += x * x;
    }
    norm = Math.sqrt(norm) || 1;
    for (let j = 0; j < dim; j++) out[i * dim + j] /= norm;
  }
  return { dim, data: out };
}

let data;
let queries;
let DATA_NAME;
if (args.base) {
  // Real vectors: the first N rows of --base, the first Q rows of --query-file (both .fvecs).
  const base = await fvecs(args.base, N);
  const q = await fvecs(args['query-file'], Q);
  if (base.dim !== q.dim) throw new Error('base and query dimensions differ');
  DIM = base.dim;
  data = base.data;
  queries = q.data;
  N = data.length / DIM;
  Q = queries.length / DIM;
  DATA_NAME = `${path.basename(args.base)} (first ${N.toLocaleString('en-US')} rows, normalized)`;
} else {
  const centerRng = rng(1);
  const centers = Float32Array.from({ length: CLUSTERS * DIM }, () => centerRng() * 2 - 1);
  data = clustered(N, 2, centers);
  queries = clustered(Q, 3, centers);
  DATA_NAME = `${N.toLocaleString('en-US')} x ${DIM} synthetic (${CLUSTERS} clusters, spread ${SPREAD}, normalized)`;
}
const rowOf = (a, i) => a.subarray(i * DIM, (i + 1) * DIM);

function groundTruth() {
  const truth = [];
  for (let q = 0; q < Q; q++) {
    const query = rowOf(queries, q);
    const d = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      let dot = 0;
      const base = i * DIM;
      for (let j = 0; j < DIM; j++) dot += data[base + j] * query[j];
      d[i] = -dot;
    }
    const order = Array.from({ length: N }, (_, i) => i).sort((a, b) => d[a] - d[b]);
    truth.push(new Set(order.slice(0, K)));
  }
  return truth;
}

/** Times `build` once and `search` over every query (repeated until at least 1 s). */
async function measure(name, notes, build, search) {
  const t0 = performance.now();
  await build();
  const buildSeconds = (performance.now() - t0) / 1000;
  let found = 0;
  for (let q = 0; q < Q; q++) {
    const ids = search(rowOf(queries, q));
    found += ids.filter((id) => truth[q].has(id)).length;
  }
  let rounds = 0;
  const t1 = performance.now();
  do {
    for (let q = 0; q < Q; q++) search(rowOf(queries, q));
    rounds++;
  } while (performance.now() - t1 < 1000);
  const searchSeconds = (performance.now() - t1) / 1000;
  const row = {
    name,
    notes,
    insertPerSecond: N / buildSeconds,
    qps: (rounds * Q) / searchSeconds,
    recall: found / (Q * K),
  };
  console.error(`${name}: build ${buildSeconds.toFixed(2)} s, ${row.qps.toFixed(0)} QPS, recall@${K} ${row.recall.toFixed(3)}`);
  return row;
}

async function edgevecWasm(quantization) {
  const { init, EdgeVec, simdBackend } = await import(pathToFileURL(path.join(PKG, 'edgevec.js')).href);
  await init();
  let db;
  return measure(
    `edgevec-wasm (${quantization})`,
    `this repo; ${simdBackend()}; M ${M}, efC ${EF_CONSTRUCTION}, ef ${EF}`,
    () => {
      db = new EdgeVec({ dimensions: DIM, metric: 'cosine', quantization, m: M, efConstruction: EF_CONSTRUCTION, efSearch: EF });
      db.insertBatch(Uint32Array.from({ length: N }, (_, i) => i), data);
    },
    (q) => db.search(q, K).map((h) => h.id),
  );
}

async function originalEdgevec() {
  const dir = path.join(PEERS, 'edgevec');
  const mod = await import(pathToFileURL(path.join(dir, 'edgevec.js')).href);
  await mod.default({ module_or_path: await readFile(path.join(dir, 'edgevec_bg.wasm')) });
  const version = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')).version;
  let db;
  let base = 0;
  return measure(
    `edgevec ${version} (npm)`,
    `HNSW f32, metric l2 (its cosine and dot return the farthest first: recall 0); M ${M}, efC ${EF_CONSTRUCTION}, ef ${EF}; insertBatchFlat`,
    () => {
      const config = new mod.EdgeVecConfig(DIM);
      // On normalized vectors L2 ranks like cosine. Its 'cosine' (and 'dot') metric return the
      // least similar vectors first (checked on a 4-d example), which would score recall 0.
      config.metric = 'l2';
      config.m = M;
      config.ef_construction = EF_CONSTRUCTION;
      config.ef_search = EF;
      db = new mod.EdgeVec(config);
      const ids = db.insertBatchFlat(data, N);
      base = ids[0]; // it numbers vectors itself, consecutively
    },
    (q) => db.search(q, K).map((h) => h.id - base),
  );
}

async function hnswlib() {
  // An emscripten build for browsers: it runs in Node once `window` exists. Its IndexedDB
  // file system cannot mount here (it says so on stderr) and is not used.
  globalThis.window ??= globalThis;
  const dir = path.join(PEERS, 'hnswlib-wasm');
  const { loadHnswlib } = await import(pathToFileURL(path.join(dir, 'dist', 'hnswlib.js')).href);
  const version = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')).version;
  const lib = await loadHnswlib();
  let index;
  return measure(
    `hnswlib-wasm ${version} (npm)`,
    `hnswlib C++ f32; M ${M}, efC ${EF_CONSTRUCTION}, ef ${EF}; addPoints`,
    () => {
      index = new lib.HierarchicalNSW('cosine', DIM, '');
      index.initIndex(N, M, EF_CONSTRUCTION, 100);
      const rows = Array.from({ length: N }, (_, i) => rowOf(data, i));
      index.addPoints(rows, Array.from({ length: N }, (_, i) => i), false);
      index.setEfSearch(EF);
    },
    (q) => index.searchKnn(q, K, undefined).neighbors,
  );
}

async function voy() {
  // A bundler build (it imports its .wasm as a module): instantiated by hand here.
  const dir = path.join(PEERS, 'voy-search');
  const bg = await import(pathToFileURL(path.join(dir, 'voy_search_bg.js')).href);
  const { instance } = await WebAssembly.instantiate(await readFile(path.join(dir, 'voy_search_bg.wasm')), {
    './voy_search_bg.js': bg,
  });
  bg.__wbg_set_wasm(instance.exports);
  const version = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')).version;
  let index;
  return measure(
    `voy-search ${version} (npm)`,
    'k-d tree, Euclidean (same ranking on normalized data); no parameters',
    () => {
      const embeddings = Array.from({ length: N }, (_, i) => ({ id: String(i), title: '', url: '', embeddings: Array.from(rowOf(data, i)) }));
      index = new bg.Voy({ embeddings });
    },
    (q) => index.search(q, K).neighbors.map((n) => Number(n.id)),
  );
}

console.error(`data: ${DATA_NAME}; ${Q} queries; k = ${K}; computing exact answers...`);
const truth = groundTruth();
const rows = [];
for (const run of [() => edgevecWasm('none'), () => edgevecWasm('u8'), originalEdgevec, hnswlib, voy]) {
  try {
    rows.push(await run());
  } catch (e) {
    console.error(`skipped: ${e.stack ?? e}`);
  }
}

const fmt = (x, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
print(`\n${DATA_NAME}, ${DIM} dimensions, ${Q} queries, k = ${K}, Node ${process.version}, one thread\n`);
print('| package | insert / s | QPS | recall@' + K + ' | notes |');
print('|---|---:|---:|---:|---|');
for (const r of rows) {
  print(`| ${r.name} | ${fmt(r.insertPerSecond)} | ${fmt(r.qps)} | ${fmt(r.recall, 3)} | ${r.notes} |`);
}
