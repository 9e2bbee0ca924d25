// Shared by the JavaScript tests of the npm package (run by `cargo xtask wasm-js-test`, which
// packs the package, extracts the tarball and sets EDGEVEC_PKG to the extracted folder).

import { existsSync } from 'node:fs';
import { writeFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export function env(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run these tests with \`cargo xtask wasm-js-test\``);
  }
  return value;
}

/** The extracted package folder (what `npm install` would put in node_modules). */
export const PKG = env('EDGEVEC_PKG');

/** Imports the package's entry module as package.json's "exports" names it. */
export async function importPackage() {
  const manifest = JSON.parse(await readFile(path.join(PKG, 'package.json'), 'utf8'));
  const entry = manifest.exports['.'].default;
  const file = path.join(PKG, entry);
  if (!existsSync(file)) throw new Error(`package entry ${entry} is missing`);
  return import(pathToFileURL(file).href);
}

/** A seeded generator of floats in [0, 1) (mulberry32). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` × `dim` roughly Gaussian values, row-major. */
export function gaussian(n, dim, seed) {
  const r = rng(seed);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < out.length; i++) out[i] = r() + r() + r() + r() - 2;
  return out;
}

export function row(data, dim, i) {
  return data.subarray(i * dim, (i + 1) * dim);
}

/** Exact k nearest under L2 or cosine (what a perfect index answers). */
export function bruteForce(data, dim, query, k, metric) {
  const n = data.length / dim;
  const qn = Math.sqrt(query.reduce((s, x) => s + x * x, 0));
  const d = [];
  for (let i = 0; i < n; i++) {
    let dot = 0;
    let l2 = 0;
    let nn = 0;
    for (let j = 0; j < dim; j++) {
      const x = data[i * dim + j];
      dot += x * query[j];
      l2 += (x - query[j]) ** 2;
      nn += x * x;
    }
    d.push([i, metric === 'cosine' ? 1 - dot / (Math.sqrt(nn) * qn) : l2]);
  }
  d.sort((a, b) => a[1] - b[1]);
  return d.slice(0, k).map(([i]) => i);
}

/** Writes rows as .fvecs (per row: int32 dim, then dim float32, little-endian). */
export async function writeFvecs(file, data, dim) {
  const n = data.length / dim;
  const buf = Buffer.alloc(n * (4 + 4 * dim));
  for (let i = 0; i < n; i++) {
    const at = i * (4 + 4 * dim);
    buf.writeInt32LE(dim, at);
    for (let j = 0; j < dim; j++) buf.writeFloatLE(data[i * dim + j], at + 4 + 4 * j);
  }
  await writeFile(file, buf);
}

/** Reads .ivecs rows as arrays of numbers. */
export async function readIvecs(file) {
  const buf = await readFile(file);
  const rows = [];
  for (let at = 0; at < buf.length; ) {
    const k = buf.readInt32LE(at);
    const r = [];
    for (let j = 0; j < k; j++) r.push(buf.readInt32LE(at + 4 + 4 * j));
    rows.push(r);
    at += 4 + 4 * k;
  }
  return rows;
}

/** Asserts that `f` throws an EdgeVecError with `code`; returns the error. */
export function throwsCode(assert, f, code, EdgeVecError) {
  let caught;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught, `expected an error with code ${code}, nothing was thrown`);
  assert.ok(caught instanceof EdgeVecError, `expected an EdgeVecError, got ${caught}`);
  assert.equal(caught.name, 'EdgeVecError');
  assert.equal(caught.code, code, `${caught.message}`);
  assert.ok(caught.message.length > 10, 'a message people can read');
  return caught;
}
