// Forged files never trap: bytes of a saved index are mutated and their checksums recomputed,
// so the damage gets past the CRCs to the facade's field checks. Loading must then either work
// (and the index must stay usable: search, insert, delete, compact, save) or throw an
// EdgeVecError; a WebAssembly trap (a Rust panic or an out-of-bounds allocation) fails.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gaussian, importPackage, rng, row } from './helpers.mjs';

const { init, EdgeVec, EdgeVecError } = await importPackage();
await init();

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Section table entries of an .evec file (docs/FORMAT.md). */
function sections(bytes) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = v.getUint32(20, true);
  const table = Number(v.getBigUint64(24, true));
  return Array.from({ length: count }, (_, i) => {
    const at = table + 32 * i;
    return { at, kind: v.getUint32(at, true), offset: Number(v.getBigUint64(at + 8, true)), length: Number(v.getBigUint64(at + 16, true)) };
  });
}

/** Recomputes the CRC of section `s`, the table CRC and the footer CRC. */
function reseal(bytes, s) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  v.setUint32(s.at + 24, crc32(bytes.subarray(s.offset, s.offset + s.length)), true);
  const count = v.getUint32(20, true);
  const table = Number(v.getBigUint64(24, true));
  const footer = Number(v.getBigUint64(32, true));
  v.setUint32(footer + 16, crc32(bytes.subarray(table, table + 32 * count)), true);
  v.setUint32(footer + 28, crc32(bytes.subarray(footer, footer + 28)), true);
}

function exercise(db, dim, r) {
  const q = Float32Array.from({ length: dim }, () => r() - 0.5);
  db.search(q, 5);
  db.search(q, 3, { ef: 50, filter: (id) => id !== 1 });
  db.insert(1_000_000 + Math.floor(r() * 1000), q);
  for (const id of db.ids().slice(0, 3)) db.delete(id);
  db.compact();
  db.search(q, 5);
  EdgeVec.load(db.save()).free();
}

for (const quantization of ['none', 'u8', 'binary']) {
  test(`forged payloads with valid checksums never trap (${quantization})`, () => {
    const dim = 8;
    const data = gaussian(120, dim, 31);
    const db = new EdgeVec({ dimensions: dim, metric: 'l2', quantization, trainSize: 64, m: 4 });
    db.insertBatch(Array.from({ length: 120 }, (_, i) => i), data);
    for (let i = 0; i < 120; i += 9) db.delete(i);
    const original = db.save();
    const table = sections(original);
    const r = rng(quantization.length);
    const outcomes = { loaded: 0, rejected: 0, typedLater: 0 };
    for (let round = 0; round < 400; round++) {
      const bytes = original.slice();
      const s = table[Math.floor(r() * table.length)];
      if (s.length === 0) continue;
      const edits = 1 + Math.floor(r() * 3);
      for (let e = 0; e < edits; e++) {
        const at = s.offset + Math.floor(r() * s.length);
        bytes[at] = r() < 0.3 ? [0, 0xff, 0x80, 0x7f][Math.floor(r() * 4)] : bytes[at] ^ (1 << Math.floor(r() * 8));
      }
      reseal(bytes, s);
      let copy;
      try {
        copy = EdgeVec.load(bytes);
      } catch (e) {
        assert.ok(e instanceof EdgeVecError, `round ${round} (section kind ${s.kind}): ${e}`);
        outcomes.rejected++;
        continue;
      }
      outcomes.loaded++;
      try {
        exercise(copy, dim, r);
      } catch (e) {
        assert.ok(e instanceof EdgeVecError && e.code !== 'INTERNAL', `round ${round} (section kind ${s.kind}), after loading: ${e.stack ?? e}`);
        outcomes.typedLater++;
      }
      copy.free();
    }
    console.log(`${quantization}: ${JSON.stringify(outcomes)}`);
    // The module is still healthy afterwards.
    assert.equal(EdgeVec.load(original).search(row(data, dim, 1), 1)[0].id, 1);
  });
}
