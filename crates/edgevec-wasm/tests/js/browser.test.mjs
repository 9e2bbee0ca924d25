// The package in a real browser: headless Chromium, driven through chromedriver (WebDriver over
// HTTP, no npm dependencies), opens a page served on 127.0.0.1 by a small static server. The
// page builds an index, searches, saves to IndexedDB and OPFS; after a reload it loads both
// and must give the same answers. Then: a save cut short by leaving the page, a torn OPFS
// generation, and damaged bytes in both stores.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PKG, env } from './helpers.mjs';

const CHROMIUM = env('CHROMIUM');
const CHROMEDRIVER = env('CHROMEDRIVER');

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>edgevec-wasm end-to-end</title>
<script type="module" src="/e2e.js"></script>
<p id="status">loading</p>
`;

// Runs in the page. Deterministic data, so every phase can rebuild the same queries.
const PAGE_SCRIPT = `
import {
  init, EdgeVec, simdBackend,
  saveToIndexedDB, loadFromIndexedDB, deleteFromIndexedDB,
  saveToOPFS, loadFromOPFS, deleteFromOPFS,
} from '/pkg/edgevec.js';

const DIM = 32;
const N = 500;

function data(n, seed) {
  let a = seed >>> 0;
  const r = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Float32Array.from({ length: n * DIM }, () => r() * 2 - 1);
}

function answers(db) {
  const queries = data(10, 99);
  const out = [];
  for (let i = 0; i < 10; i++) {
    out.push(db.search(queries.subarray(i * DIM, (i + 1) * DIM), 10).map((h) => [h.id, h.distance]));
  }
  return out;
}

async function edgevecDir() {
  return (await navigator.storage.getDirectory()).getDirectoryHandle('edgevec');
}

async function opfsFiles() {
  const names = [];
  for await (const [name] of (await edgevecDir()).entries()) names.push(name);
  return names.sort();
}

async function writeOpfs(name, bytes) {
  const file = await (await edgevecDir()).getFileHandle(name, { create: true });
  const w = await file.createWritable();
  await w.write(bytes);
  await w.close();
}

function idb(f) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open('edgevec');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const conn = open.result;
      const tx = conn.transaction(['pointers', 'blobs'], 'readwrite');
      let result;
      Promise.resolve(f(tx)).then((v) => { result = v; });
      tx.oncomplete = () => { conn.close(); resolve(result); };
      tx.onerror = () => { conn.close(); reject(tx.error); };
    };
  });
}

function req(r) {
  return new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
}

async function codeOf(promise) {
  try { await promise; return 'no error'; } catch (e) { return e.code ?? String(e); }
}

window.e2e = {
  async build() {
    await init();
    const db = new EdgeVec({ dimensions: DIM, metric: 'cosine', quantization: 'u8', trainSize: 200 });
    db.insertBatch(Array.from({ length: N }, (_, i) => i), data(N, 1));
    for (const id of [3, 7, 11]) db.delete(id);
    await deleteFromIndexedDB('e2e');
    await deleteFromOPFS('e2e');
    const idbBytes = await saveToIndexedDB(db, 'e2e');
    const opfsBytes = await saveToOPFS(db, 'e2e');
    document.getElementById('status').textContent = 'saved';
    return { simd: simdBackend(), size: db.size, answers: answers(db), idbBytes, opfsBytes, bytes: db.save().length };
  },

  async reloaded() {
    await init();
    const a = await loadFromIndexedDB('e2e');
    const b = await loadFromOPFS('e2e');
    return {
      sizes: [a.size, b.size, a.deletedCount],
      idb: answers(a),
      opfs: answers(b),
      missing: [await loadFromIndexedDB('nothing here'), await loadFromOPFS('nothing here')],
      files: await opfsFiles(),
    };
  },

  // Starts saving a larger version to both stores and returns at once: the test leaves the
  // page immediately, while the saves are in flight.
  async saveAndLeave() {
    await init();
    const db = await loadFromIndexedDB('e2e');
    db.insertBatch(Array.from({ length: 100 }, (_, i) => 1000 + i), data(100, 2));
    saveToIndexedDB(db, 'e2e');
    saveToOPFS(db, 'e2e');
    return db.size;
  },

  async afterLeaving() {
    await init();
    const a = await loadFromIndexedDB('e2e');
    const b = await loadFromOPFS('e2e');
    return { sizes: [a.size, b.size], files: await opfsFiles() };
  },

  // A save torn mid-write leaves a partial newest generation: the previous one loads. A
  // single damaged generation is an error, not skipped.
  async tornOpfs() {
    await init();
    const current = await loadFromOPFS('e2e');
    const bytes = current.save();
    await saveToOPFS(current, 'e2e'); // leaves exactly one generation
    const [only] = await opfsFiles();
    const generation = Number(/^e2e\\.(\\d+)\\.evec$/.exec(only)[1]);
    await writeOpfs('e2e.' + (generation + 1) + '.evec', bytes.subarray(0, bytes.length >> 1));
    const fallback = await loadFromOPFS('e2e');
    const torn = { size: fallback.size, same: JSON.stringify(answers(fallback)) === JSON.stringify(answers(current)) };
    await saveToOPFS(current, 'e2e'); // a complete save removes both older files
    const filesAfterSave = await opfsFiles();
    const damaged = bytes.slice();
    damaged[damaged.length >> 1] ^= 0x20;
    await writeOpfs(filesAfterSave[0], damaged);
    const damagedCode = await codeOf(loadFromOPFS('e2e'));
    return { torn, expected: current.size, filesAfterSave, damagedCode };
  },

  async damagedIndexedDb() {
    await init();
    await idb(async (tx) => {
      const pointer = await req(tx.objectStore('pointers').get('e2e'));
      const key = ['e2e', pointer.generation];
      const bytes = await req(tx.objectStore('blobs').get(key));
      bytes[100] ^= 0x01;
      tx.objectStore('blobs').put(bytes, key);
    });
    const damagedCode = await codeOf(loadFromIndexedDB('e2e'));
    await idb((tx) => { tx.objectStore('blobs').clear(); });
    const missingCode = await codeOf(loadFromIndexedDB('e2e'));
    return { damagedCode, missingCode };
  },
};
document.getElementById('status').textContent = 'ready';
`;

const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.html': 'text/html' };

function startServer() {
  const server = createServer(async (request, response) => {
    const url = new URL(request.url, 'http://127.0.0.1');
    try {
      if (url.pathname === '/') {
        response.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      } else if (url.pathname === '/e2e.js') {
        response.writeHead(200, { 'content-type': 'text/javascript' }).end(PAGE_SCRIPT);
      } else if (url.pathname.startsWith('/pkg/')) {
        const rel = path.normalize(decodeURIComponent(url.pathname.slice(5)));
        if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error('outside the package');
        const body = await readFile(path.join(PKG, rel));
        response.writeHead(200, { 'content-type': TYPES[path.extname(rel)] ?? 'application/octet-stream' }).end(body);
      } else {
        response.writeHead(404).end();
      }
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A minimal W3C WebDriver client. */
class Driver {
  constructor(base) {
    this.base = base;
  }

  async call(method, route, body) {
    const response = await fetch(this.base + route, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(120_000),
    });
    const json = await response.json();
    if (!response.ok) throw new Error(`WebDriver ${method} ${route}: ${JSON.stringify(json.value)}`);
    return json.value;
  }

  async start(profile) {
    const value = await this.call('POST', '/session', {
      capabilities: {
        alwaysMatch: {
          browserName: 'chrome',
          'goog:chromeOptions': {
            binary: CHROMIUM,
            args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', `--user-data-dir=${profile}`],
          },
          timeouts: { script: 60_000, pageLoad: 60_000 },
        },
      },
    });
    this.session = `/session/${value.sessionId}`;
  }

  open(url) {
    return this.call('POST', `${this.session}/url`, { url });
  }

  reload() {
    return this.call('POST', `${this.session}/refresh`, {});
  }

  /** Calls window.e2e[name]() in the page once its module has loaded. */
  async phase(name) {
    const script = `
      const done = arguments[arguments.length - 1];
      (async () => {
        for (let i = 0; i < 400 && !window.e2e; i++) await new Promise((r) => setTimeout(r, 25));
        if (!window.e2e) throw new Error('the page did not load its module: ' + document.body.innerText);
        return window.e2e[arguments[0]]();
      })().then((ok) => done({ ok }), (e) => done({ error: String((e && e.stack) || e) }));`;
    const result = await this.call('POST', `${this.session}/execute/async`, { script, args: [name] });
    if (result.error) throw new Error(`page phase ${name}: ${result.error}`);
    return result.ok;
  }

  async stop() {
    if (this.session) await this.call('DELETE', this.session).catch(() => {});
  }
}

let server;
let driverProcess;
let driver;
let profile;
let origin;

before(async () => {
  server = await startServer();
  origin = `http://127.0.0.1:${server.address().port}/`;
  const port = await freePort();
  driverProcess = spawn(CHROMEDRIVER, [`--port=${port}`, '--allowed-ips=127.0.0.1'], { stdio: 'ignore' });
  driver = new Driver(`http://127.0.0.1:${port}`);
  for (let i = 0; ; i++) {
    try {
      if ((await driver.call('GET', '/status')).ready) break;
    } catch {
      // not listening yet
    }
    if (i > 200) throw new Error('chromedriver did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  profile = await mkdtemp(path.join(os.tmpdir(), 'edgevec-chromium-'));
  await driver.start(profile);
});

after(async () => {
  await driver?.stop();
  driverProcess?.kill();
  await new Promise((r) => server?.close(r));
  if (profile) await rm(profile, { recursive: true, force: true });
});

let built;

test('build, search and save in the page; reload; IndexedDB and OPFS give the same answers', async () => {
  await driver.open(origin);
  built = await driver.phase('build');
  assert.equal(built.simd, 'simd128');
  assert.equal(built.size, 497);
  assert.equal(built.idbBytes, built.bytes);
  assert.equal(built.opfsBytes, built.bytes);
  assert.equal(built.answers.length, 10);
  assert.ok(built.answers.every((a) => a.length === 10 && a.every(([id]) => ![3, 7, 11].includes(id))));

  await driver.reload();
  const back = await driver.phase('reloaded');
  assert.deepEqual(back.sizes, [497, 497, 3]);
  assert.deepEqual(back.idb, built.answers, 'IndexedDB: same ids and distances after the reload');
  assert.deepEqual(back.opfs, built.answers, 'OPFS: same ids and distances after the reload');
  assert.deepEqual(back.missing, [null, null]);
  assert.equal(back.files.length, 1, `one OPFS generation: ${back.files}`);
});

test('leaving the page during a save leaves a loadable version in both stores', async (t) => {
  await driver.open(origin);
  const bigger = await driver.phase('saveAndLeave');
  assert.equal(bigger, 597);
  await driver.open(`${origin}?after`);
  const { sizes, files } = await driver.phase('afterLeaving');
  t.diagnostic(`after leaving mid-save: IndexedDB ${sizes[0]}, OPFS ${sizes[1]} vectors; OPFS files ${files.join(' ')}`);
  for (const size of sizes) assert.ok(size === 497 || size === 597, `loaded ${size} vectors (files: ${files})`);
});

test('OPFS: a torn newest generation falls back to the previous one; a damaged single one is CORRUPTED', async () => {
  await driver.reload();
  const r = await driver.phase('tornOpfs');
  assert.equal(r.torn.size, r.expected);
  assert.ok(r.torn.same, 'the fallback answers like the saved index');
  assert.equal(r.filesAfterSave.length, 1, `older generations removed: ${r.filesAfterSave}`);
  assert.equal(r.damagedCode, 'CORRUPTED');
});

test('IndexedDB: damaged bytes are CORRUPTED, missing bytes too', async () => {
  await driver.reload();
  const r = await driver.phase('damagedIndexedDb');
  assert.equal(r.damagedCode, 'CORRUPTED');
  assert.equal(r.missingCode, 'CORRUPTED');
});
