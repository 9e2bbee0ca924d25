// The package's JavaScript API in Node: every call, bad input, save/load round trips and
// damaged bytes, against the packed package (see helpers.mjs).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importPackage, gaussian, row, bruteForce, throwsCode } from './helpers.mjs';

const pkg = await importPackage();
const { init, EdgeVec, EdgeVecError, simdBackend, isInitialized } = pkg;
const fails = (f, code) => throwsCode(assert, f, code, EdgeVecError);

test('before init(): a typed error, not a crash', () => {
  assert.equal(isInitialized(), false);
  fails(() => new EdgeVec({ dimensions: 4 }), 'NOT_INITIALIZED');
  fails(() => EdgeVec.load(new Uint8Array(8)), 'NOT_INITIALIZED');
  fails(() => simdBackend(), 'NOT_INITIALIZED');
});

test('init() is idempotent and the kernels are simd128', async () => {
  const a = init();
  const b = init();
  assert.equal(a, b, 'the same promise');
  await a;
  await init();
  assert.equal(isInitialized(), true);
  assert.equal(simdBackend(), 'simd128');
});

test('the exports', () => {
  for (const name of [
    'init', 'EdgeVec', 'EdgeVecError', 'simdBackend', 'isInitialized',
    'saveToIndexedDB', 'loadFromIndexedDB', 'deleteFromIndexedDB',
    'saveToOPFS', 'loadFromOPFS', 'deleteFromOPFS',
  ]) {
    assert.equal(typeof pkg[name], 'function', name);
  }
});

test('constructor: defaults, the issue example, and bad options', () => {
  const d = new EdgeVec({ dimensions: 8 });
  assert.deepEqual(
    [d.dimensions, d.metric, d.quantization, d.m, d.efConstruction, d.efSearch, d.size, d.deletedCount],
    [8, 'l2', 'none', 16, 200, 64, 0, 0],
  );
  const db = new EdgeVec({ dimensions: 384, metric: 'cosine', quantization: 'u8', m: 16, efConstruction: 200 });
  assert.deepEqual([db.dimensions, db.metric, db.quantization, db.m], [384, 'cosine', 'u8', 16]);
  const all = new EdgeVec({
    dimensions: 3, metric: 'dot', quantization: 'i8', m: 4, efConstruction: 20, efSearch: 30, seed: 9, trainSize: 10, oversample: 2,
  });
  assert.deepEqual([all.metric, all.quantization, all.m, all.efConstruction, all.efSearch], ['dot', 'i8', 4, 20, 30]);

  fails(() => new EdgeVec(), 'INVALID_ARGUMENT');
  fails(() => new EdgeVec(384), 'INVALID_ARGUMENT');
  fails(() => new EdgeVec({}), 'INVALID_ARGUMENT');
  fails(() => new EdgeVec({ dimensions: '384' }), 'INVALID_ARGUMENT');
  fails(() => new EdgeVec({ dimensions: 0 }), 'INVALID_ARGUMENT');
  fails(() => new EdgeVec({ dimensions: 1.5 }), 'INVALID_ARGUMENT');
  fails(() => new EdgeVec({ dimensions: 70000 }), 'INVALID_ARGUMENT');
  fails(() => new EdgeVec({ dimensions: 8, metric: 'hamming' }), 'INVALID_ARGUMENT');
  fails(() => new EdgeVec({ dimensions: 8, quantization: 'u4' }), 'INVALID_ARGUMENT');
  fails(() => new EdgeVec({ dimensions: 8, m: 1 }), 'INVALID_ARGUMENT');
  fails(() => new EdgeVec({ dimensions: 8, m: '16' }), 'INVALID_ARGUMENT');
  fails(() => new EdgeVec({ dimensions: 8, efconstruction: 100 }), 'INVALID_ARGUMENT');
  const e = fails(() => new EdgeVec({ dimensions: 8, metric: 'dot', quantization: 'u8' }), 'INVALID_ARGUMENT');
  assert.match(e.message, /u8 quantization does not support the dot metric/);
  // A fractional rescoring factor is accepted; one below 1, not a number or above 1000 is not.
  assert.equal(new EdgeVec({ dimensions: 8, quantization: 'u8', oversample: 1.25 }).quantization, 'u8');
  for (const oversample of [0.5, 0, -1, NaN, Infinity, 1001]) {
    const bad = fails(() => new EdgeVec({ dimensions: 8, quantization: 'u8', oversample }), 'INVALID_ARGUMENT');
    assert.match(bad.message, /oversample/);
  }
});

test('insert, search, delete, compact, upsert, has, get, ids', () => {
  const dim = 16;
  const data = gaussian(300, dim, 1);
  const db = new EdgeVec({ dimensions: dim, metric: 'l2', seed: 3 });
  for (let i = 0; i < 300; i++) db.insert(i, row(data, dim, i));
  assert.equal(db.size, 300);
  const hits = db.search(row(data, dim, 7), 10);
  assert.equal(hits.length, 10);
  assert.deepEqual(Object.keys(hits[0]).sort(), ['distance', 'id']);
  assert.equal(hits[0].id, 7);
  assert.equal(hits[0].distance, 0);
  for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1].distance <= hits[i].distance, 'sorted');
  assert.deepEqual(db.search(row(data, dim, 7), 10, { ef: 200 }).slice(0, 1), hits.slice(0, 1));

  assert.equal(db.delete(7), true);
  assert.equal(db.delete(7), false);
  assert.equal(db.delete(100000), false);
  assert.equal(db.has(7), false);
  assert.equal(db.has(8), true);
  assert.equal(db.deletedCount, 1);
  assert.equal(db.size, 299);
  assert.ok(db.search(row(data, dim, 7), 50).every((h) => h.id !== 7), 'a deleted id never comes back');
  assert.equal(db.compact(), 1);
  assert.equal(db.compact(), 0);
  assert.equal(db.deletedCount, 0);
  assert.equal(db.size, 299);
  assert.equal(db.search(row(data, dim, 8), 1)[0].id, 8, 'ids survive compaction');

  assert.deepEqual(Array.from(db.get(8)), Array.from(row(data, dim, 8)));
  assert.equal(db.get(7), undefined);
  assert.equal(db.upsert(8, row(data, dim, 9)), true);
  assert.equal(db.upsert(7, row(data, dim, 7)), false);
  assert.equal(db.size, 300);
  const ids = db.ids().sort((a, b) => a - b);
  assert.deepEqual(ids, Array.from({ length: 300 }, (_, i) => i));
  // A plain array is accepted as a vector too.
  db.insert(1000, Array.from(row(data, dim, 0)));
  assert.equal(db.search(Array.from(row(data, dim, 0)), 2).length, 2);
});

test('ids: numbers up to MAX_SAFE_INTEGER come back as numbers, larger ones as bigints', () => {
  const db = new EdgeVec({ dimensions: 2 });
  const max = Number.MAX_SAFE_INTEGER;
  db.insert(max, new Float32Array([1, 0]));
  db.insert(2n ** 64n - 1n, new Float32Array([0, 1]));
  db.insert(BigInt(max) + 1n, new Float32Array([1, 1]));
  db.insert(0n, new Float32Array([5, 5]));
  const byId = (q) => db.search(new Float32Array(q), 1)[0].id;
  assert.equal(byId([1, 0]), max);
  assert.equal(typeof byId([1, 0]), 'number');
  assert.equal(byId([0, 1]), 2n ** 64n - 1n);
  assert.equal(byId([1, 1]), BigInt(max) + 1n);
  assert.equal(byId([5, 5]), 0);
  assert.equal(db.has(2n ** 64n - 1n), true);
  assert.equal(db.has(max), true);
  assert.equal(db.delete(2n ** 64n - 1n), true);
  const seen = [];
  db.search(new Float32Array([1, 1]), 3, { filter: (id) => (seen.push(id), true) });
  assert.ok(seen.includes(max) && seen.includes(BigInt(max) + 1n), 'filters receive ids the same way');
  assert.ok(seen.every((id) => (typeof id === 'number' ? id <= max : id > BigInt(max))));

  for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53, max + 1, '5', null, undefined, {}, -1n, 2n ** 64n]) {
    fails(() => db.insert(bad, new Float32Array([0.5, 0.5])), 'INVALID_ID');
    fails(() => db.delete(bad), 'INVALID_ID');
    fails(() => db.has(bad), 'INVALID_ID');
  }
  assert.equal(db.size, 3);
});

test('bad vectors and queries', () => {
  const db = new EdgeVec({ dimensions: 4, metric: 'cosine' });
  db.insert(1, new Float32Array([1, 0, 0, 0]));
  const e = fails(() => db.insert(2, new Float32Array(3).fill(1)), 'DIMENSION_MISMATCH');
  assert.match(e.message, /4-dimensional/);
  fails(() => db.insert(2, new Float32Array([1, NaN, 0, 0])), 'INVALID_VECTOR');
  fails(() => db.insert(2, new Float32Array([1, Infinity, 0, 0])), 'INVALID_VECTOR');
  fails(() => db.insert(2, new Float32Array(4)), 'INVALID_VECTOR');
  fails(() => db.insert(2, [1, 'x', 0, 0]), 'INVALID_VECTOR');
  fails(() => db.insert(2, 'abcd'), 'INVALID_ARGUMENT');
  fails(() => db.insert(2, null), 'INVALID_ARGUMENT');
  fails(() => db.insert(2, new BigInt64Array(4)), 'INVALID_ARGUMENT');
  fails(() => db.insert(1, new Float32Array([0, 1, 0, 0])), 'DUPLICATE_ID');
  const q = new Float32Array([1, 0, 0, 0]);
  fails(() => db.search(new Float32Array(5), 1), 'DIMENSION_MISMATCH');
  fails(() => db.search(new Float32Array([NaN, 0, 0, 0]), 1), 'INVALID_VECTOR');
  fails(() => db.search(new Float32Array(4), 1), 'INVALID_VECTOR');
  for (const k of [0, -1, 1.5, NaN, Infinity]) fails(() => db.search(q, k), 'INVALID_ARGUMENT');
  for (const k of ['3', undefined, null, 3n]) fails(() => db.search(q, k), 'INVALID_ARGUMENT');
  fails(() => db.search(q, 1, { ef: -1 }), 'INVALID_ARGUMENT');
  fails(() => db.search(q, 1, { ef: '10' }), 'INVALID_ARGUMENT');
  fails(() => db.search(q, 1, { k: 10 }), 'INVALID_ARGUMENT');
  fails(() => db.search(q, 1, { filter: 'even' }), 'INVALID_ARGUMENT');
  fails(() => db.search(q, 1, null), 'INVALID_ARGUMENT');
  // Huge k and ef are fine: bounded by the index's size.
  assert.deepEqual(db.search(q, Number.MAX_SAFE_INTEGER, { ef: 2 ** 40 }).map((h) => h.id), [1]);
  assert.equal(db.size, 1, 'nothing bad got in');
});

test('insertBatch: arrays, Uint32Array, BigUint64Array; all or nothing', () => {
  const dim = 8;
  const data = gaussian(40, dim, 2);
  const db = new EdgeVec({ dimensions: dim });
  db.insertBatch([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], data.subarray(0, 10 * dim));
  db.insertBatch(Uint32Array.from({ length: 10 }, (_, i) => 10 + i), data.subarray(10 * dim, 20 * dim));
  db.insertBatch(BigUint64Array.from({ length: 10 }, (_, i) => BigInt(20 + i)), data.subarray(20 * dim, 30 * dim));
  db.insertBatch([30, 31n, 32, 33n, 34, 35, 36, 37, 38, 39], Array.from(data.subarray(30 * dim)));
  assert.equal(db.size, 40);
  for (const i of [0, 15, 25, 31, 39]) assert.equal(db.search(row(data, dim, i), 1)[0].id, i);
  db.insertBatch([], new Float32Array(0));

  const more = gaussian(3, dim, 3);
  fails(() => db.insertBatch([100, 101, 102], more.subarray(0, 2 * dim + 1)), 'DIMENSION_MISMATCH');
  fails(() => db.insertBatch([100, 101, 5], more), 'DUPLICATE_ID');
  fails(() => db.insertBatch([100, 101, 100], more), 'DUPLICATE_ID');
  const bad = more.slice();
  bad[dim + 2] = NaN;
  const e = fails(() => db.insertBatch([100, 101, 102], bad), 'INVALID_VECTOR');
  assert.match(e.message, /batch row 1/);
  fails(() => db.insertBatch([100, -1, 102], more), 'INVALID_ID');
  fails(() => db.insertBatch([100, 1.5, 102], more), 'INVALID_ID');
  fails(() => db.insertBatch(new Int32Array([100, 101, 102]), more), 'INVALID_ID');
  fails(() => db.insertBatch(new BigInt64Array([100n, -1n, 102n]), more), 'INVALID_ID');
  fails(() => db.insertBatch('1,2,3', more), 'INVALID_ID');
  fails(() => db.insertBatch([100, 101, 102], 'vectors'), 'INVALID_ARGUMENT');
  assert.equal(db.size, 40, 'a rejected batch inserts nothing');
  assert.equal(db.has(100), false);
});

test('filters: called with ids, exceptions pass through, re-entrant searches work', () => {
  const dim = 8;
  const data = gaussian(200, dim, 4);
  const db = new EdgeVec({ dimensions: dim, metric: 'cosine' });
  db.insertBatch(Array.from({ length: 200 }, (_, i) => i), data);
  const q = row(data, dim, 10);
  const even = db.search(q, 10, { filter: (id) => id % 2 === 0 });
  assert.equal(even.length, 10);
  assert.ok(even.every((h) => h.id % 2 === 0));
  assert.equal(db.search(q, 1, { filter: (id) => id === 10 ? 1 : 0 })[0].id, 10, 'truthy values accept');
  assert.deepEqual(db.search(q, 5, { filter: () => false }), []);
  assert.equal(db.search(q, 5, { filter: null }).length, 5);

  const boom = new TypeError('my filter broke');
  assert.throws(() => db.search(q, 5, { filter: () => { throw boom; } }), (e) => e === boom);

  // A filter may search (the same index or another one) ...
  const nested = db.search(q, 3, { filter: (id) => db.search(row(data, dim, id), 1)[0].id === id });
  assert.equal(nested.length, 3);
  // ... but not change the index it filters.
  assert.throws(
    () => db.search(q, 3, { filter: (id) => { db.delete(id); return true; } }),
    (e) => e instanceof EdgeVecError && e.code === 'INVALID_STATE',
  );
  assert.equal(db.size, 200);
  assert.equal(db.search(q, 1)[0].id, 10, 'still usable');
});

test('quantized indexes: before and after the codec is trained', () => {
  const dim = 32;
  const data = gaussian(600, dim, 5);
  for (const quantization of ['u8', 'i8', 'binary']) {
    const db = new EdgeVec({ dimensions: dim, metric: 'cosine', quantization, trainSize: 256 });
    for (let i = 0; i < 100; i++) db.insert(i, row(data, dim, i));
    assert.equal(db.search(row(data, dim, 3), 1)[0].id, 3, `${quantization}: exact before training`);
    db.insertBatch(Array.from({ length: 500 }, (_, i) => 100 + i), data.subarray(100 * dim));
    assert.equal(db.size, 600);
    assert.equal(db.search(row(data, dim, 300), 1)[0].id, 300, `${quantization}: after training`);
    const mem = db.memoryUsage();
    assert.ok(mem.codes > 0 && mem.graph > 0 && mem.total === mem.vectors + mem.codes + mem.graph + mem.ids);
  }
});

test('recall@10 against brute force (the SIMD kernels give right answers)', () => {
  const dim = 64;
  const n = 2000;
  const data = gaussian(n, dim, 6);
  const queries = gaussian(50, dim, 7);
  for (const [metric, quantization] of [['l2', 'none'], ['cosine', 'u8']]) {
    const db = new EdgeVec({ dimensions: dim, metric, quantization });
    db.insertBatch(Array.from({ length: n }, (_, i) => i), data);
    let found = 0;
    for (let qi = 0; qi < 50; qi++) {
      const q = row(queries, dim, qi);
      const truth = new Set(bruteForce(data, dim, q, 10, metric));
      found += db.search(q, 10, { ef: 100 }).filter((h) => truth.has(h.id)).length;
    }
    const recall = found / 500;
    assert.ok(recall >= 0.9, `${metric}/${quantization}: recall@10 = ${recall}`);
  }
});

test('save / load: identical answers, for every quantization and metric', () => {
  const dim = 24;
  const data = gaussian(500, dim, 8);
  const queries = gaussian(20, dim, 9);
  for (const quantization of ['none', 'u8', 'i8', 'binary']) {
    for (const metric of ['l2', 'cosine', 'dot']) {
      if (quantization === 'u8' && metric === 'dot') continue;
      const db = new EdgeVec({ dimensions: dim, metric, quantization, trainSize: 100 });
      db.insertBatch(Array.from({ length: 500 }, (_, i) => i * 7), data);
      for (let i = 0; i < 500; i += 5) db.delete(i * 7);
      const bytes = db.save();
      assert.ok(bytes instanceof Uint8Array);
      assert.deepEqual(Array.from(bytes.subarray(0, 8)), [0x89, 0x45, 0x56, 0x43, 0x0d, 0x0a, 0x1a, 0x0a], '.evec magic');
      for (const copy of [EdgeVec.load(bytes), EdgeVec.load(bytes.slice().buffer), EdgeVec.load(new DataView(bytes.buffer))]) {
        assert.deepEqual(
          [copy.size, copy.deletedCount, copy.metric, copy.quantization, copy.dimensions],
          [db.size, db.deletedCount, metric, quantization, dim],
        );
        for (let qi = 0; qi < 20; qi++) {
          const q = row(queries, dim, qi);
          assert.deepEqual(copy.search(q, 10), db.search(q, 10), `${quantization}/${metric} query ${qi}`);
        }
        copy.free();
      }
      // Saved again after a round trip: the same bytes.
      assert.deepEqual(EdgeVec.load(bytes).save(), bytes);
    }
  }
});

test('damaged bytes: a typed error for every kind of damage', () => {
  const dim = 8;
  const db = new EdgeVec({ dimensions: dim, quantization: 'u8', trainSize: 50 });
  db.insertBatch(Array.from({ length: 100 }, (_, i) => i), gaussian(100, dim, 10));
  const bytes = db.save();
  fails(() => EdgeVec.load(new Uint8Array(0)), 'CORRUPTED');
  fails(() => EdgeVec.load(new TextEncoder().encode('{"not": "an index"}')), 'CORRUPTED');
  fails(() => EdgeVec.load(bytes.subarray(0, bytes.length - 1)), 'CORRUPTED');
  fails(() => EdgeVec.load(bytes.subarray(0, 100)), 'CORRUPTED');
  const longer = new Uint8Array(bytes.length + 8);
  longer.set(bytes);
  fails(() => EdgeVec.load(longer), 'CORRUPTED');
  for (let at = 0; at < bytes.length; at += 13) {
    const damaged = bytes.slice();
    damaged[at] ^= 0x04;
    let err;
    try {
      EdgeVec.load(damaged);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof EdgeVecError, `byte ${at}: damage must be detected`);
    assert.ok(['CORRUPTED', 'UNSUPPORTED_VERSION'].includes(err.code), `byte ${at}: ${err.code}`);
  }
  fails(() => EdgeVec.load('bytes'), 'INVALID_ARGUMENT');
  fails(() => EdgeVec.load([1, 2, 3]), 'INVALID_ARGUMENT');
  fails(() => EdgeVec.load(null), 'INVALID_ARGUMENT');
});

test('free(): later calls fail with FREED; freeing twice is harmless', () => {
  const db = new EdgeVec({ dimensions: 2 });
  db.insert(1, new Float32Array([1, 2]));
  db.free();
  db.free();
  fails(() => db.size, 'FREED');
  fails(() => db.insert(2, new Float32Array([1, 2])), 'FREED');
  fails(() => db.search(new Float32Array([1, 2]), 1), 'FREED');
  fails(() => db.save(), 'FREED');
});
