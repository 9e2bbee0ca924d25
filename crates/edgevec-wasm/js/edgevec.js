// EdgeVec for browsers and Node: an embedded vector database (HNSW, optional quantization,
// checksummed .evec files) compiled to WebAssembly with SIMD. See README.md.
//
// This module is the package's public API. It checks and converts JavaScript values and
// calls the wasm-bindgen layer (./edgevec_wasm.js, built from crates/edgevec-wasm/src/lib.rs),
// which owns one Rust `edgevec::Index` per EdgeVec.

import wasmInit, { RawIndex, simdBackend as rawSimdBackend } from './edgevec_wasm.js';

export {
  saveToIndexedDB,
  loadFromIndexedDB,
  deleteFromIndexedDB,
  saveToOPFS,
  loadFromOPFS,
  deleteFromOPFS,
} from './storage.js';

/** The .wasm file, beside this module. */
const WASM_FILE = 'edgevec_wasm_bg.wasm';
const MAX_U64 = (1n << 64n) - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Every error EdgeVec throws (except the exceptions of your own filter functions, which pass
 * through unchanged). `code` says what went wrong; `message` says it for people.
 */
export class EdgeVecError extends Error {
  constructor(message, code, options) {
    super(message, options);
    this.name = 'EdgeVecError';
    this.code = code;
  }
}

let initPromise = null;
let ready = false;
let broken = null;

/**
 * Loads and instantiates the WebAssembly module. Call (and await) it once before anything
 * else; later calls return the same promise. In Node (and wherever the module is loaded from
 * a file: URL) the .wasm is read from this package's folder; in a browser it is fetched from
 * beside this module. `source` overrides that: a URL, a Response, the .wasm bytes, or a
 * compiled WebAssembly.Module.
 */
export function init(source) {
  if (initPromise === null) {
    initPromise = load(source).then(
      () => {
        ready = true;
      },
      (e) => {
        initPromise = null; // a failed load can be retried
        throw new EdgeVecError(`EdgeVec could not load its WebAssembly module: ${e.message}`, 'INIT_FAILED', { cause: e });
      },
    );
  }
  return initPromise;
}

async function load(source) {
  if (source === undefined) {
    const url = new URL(WASM_FILE, import.meta.url);
    if (url.protocol === 'file:') {
      // Node, Bun, Deno: no fetch() for file: URLs. The name is in a variable so that bundlers
      // targeting browsers leave this import alone.
      const fsModule = 'node:fs/promises';
      const { readFile } = await import(/* webpackIgnore: true */ /* @vite-ignore */ fsModule);
      source = await readFile(url);
    } else {
      source = url;
    }
  }
  await wasmInit({ module_or_path: source });
}

/** Whether init() has completed. */
export function isInitialized() {
  return ready;
}

/** The SIMD backend of the distance kernels: 'simd128' in this package. */
export function simdBackend() {
  requireReady();
  return rawSimdBackend();
}

function requireReady() {
  if (broken) throw broken;
  if (!ready) {
    throw new EdgeVecError('EdgeVec is not initialized: call `await init()` first', 'NOT_INITIALIZED');
  }
}

/** Runs a call into WebAssembly and turns what it throws into EdgeVecError. */
function guard(f) {
  requireReady();
  try {
    return f();
  } catch (e) {
    throw translate(e);
  }
}

function translate(e) {
  if (e instanceof EdgeVecError) return e;
  if (e instanceof Error && e.name === 'EdgeVecError') return new EdgeVecError(e.message, e.code);
  if (e instanceof WebAssembly.RuntimeError) {
    // A trap: memory exhaustion, or a Rust panic (a bug: no input should cause one; the .wasm
    // aborts at once, without a message). The module's state can no longer be trusted, so
    // every later call fails too.
    broken = new EdgeVecError(
      `EdgeVec stopped: ${e.message} (out of memory, or a bug in EdgeVec); reload the page or process`,
      'INTERNAL',
      { cause: e },
    );
    return broken;
  }
  if (e instanceof Error && /recursive use of an object|null pointer passed to rust/.test(e.message)) {
    return new EdgeVecError(
      'this EdgeVec is in use by a search whose filter called back into it, or was freed',
      'INVALID_STATE',
      { cause: e },
    );
  }
  return e; // the exception of a user's filter, as it was thrown
}

function invalid(message) {
  return new EdgeVecError(message, 'INVALID_ARGUMENT');
}

/** An id as a bigint: a non-negative safe integer number, or a bigint below 2^64. */
function toId(id, what = 'id') {
  if (typeof id === 'number') {
    if (Number.isSafeInteger(id) && id >= 0) return BigInt(id);
    throw new EdgeVecError(
      `${what} must be a whole number from 0 to Number.MAX_SAFE_INTEGER (2^53 - 1), or a bigint below 2^64; got ${id}`,
      'INVALID_ID',
    );
  }
  if (typeof id === 'bigint') {
    if (id >= 0n && id <= MAX_U64) return id;
    throw new EdgeVecError(`${what} must be a bigint from 0 to 2^64 - 1; got ${id}n`, 'INVALID_ID');
  }
  throw new EdgeVecError(`${what} must be a number or a bigint; got ${describe(id)}`, 'INVALID_ID');
}

/** Ids come back as numbers when they are safe integers, as bigints otherwise. */
function fromId(id) {
  return id <= MAX_SAFE ? Number(id) : id;
}

function toIds(ids) {
  if (ids instanceof BigUint64Array) return ids;
  if (ids instanceof Uint32Array || ids instanceof Uint16Array || ids instanceof Uint8Array) {
    return BigUint64Array.from(ids, (x) => BigInt(x));
  }
  if (Array.isArray(ids) || ids instanceof BigInt64Array) {
    const out = new BigUint64Array(ids.length);
    for (let i = 0; i < ids.length; i++) out[i] = toId(ids[i], `ids[${i}]`);
    return out;
  }
  throw new EdgeVecError(
    `ids must be an array of numbers or bigints, a Uint32Array or a BigUint64Array; got ${describe(ids)}`,
    'INVALID_ID',
  );
}

function toVector(v, what) {
  if (v instanceof Float32Array) return v;
  if (Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView) && !isBigIntArray(v))) {
    return Float32Array.from(v);
  }
  throw invalid(`${what} must be a Float32Array (or an array of numbers); got ${describe(v)}`);
}

function isBigIntArray(v) {
  return v instanceof BigInt64Array || v instanceof BigUint64Array;
}

function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return v.constructor?.name ?? 'an object';
  return `${typeof v} ${String(v)}`;
}

function optionalNumber(options, key) {
  const v = options[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number') throw invalid(`${key} must be a number; got ${describe(v)}`);
  return v;
}

function checkKeys(options, known, what) {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw invalid(`${what}: unknown option "${key}" (known: ${known.join(', ')})`);
    }
  }
}

const INDEX_OPTIONS = ['dimensions', 'metric', 'quantization', 'm', 'efConstruction', 'efSearch', 'seed', 'trainSize', 'oversample'];
const SEARCH_OPTIONS = ['ef', 'filter'];
const FROM_RAW = Symbol('fromRaw');
const dispose = typeof Symbol.dispose === 'symbol' ? Symbol.dispose : Symbol('dispose');

/**
 * A vector index in WebAssembly memory. Create one with `new EdgeVec(options)` or
 * `EdgeVec.load(bytes)` after `await init()`. Call `free()` when done to release its memory at
 * once (otherwise the garbage collector does it eventually).
 */
export class EdgeVec {
  #raw;

  constructor(options, raw) {
    if (options === FROM_RAW) {
      this.#raw = raw;
      return;
    }
    requireReady();
    if (options === null || typeof options !== 'object') {
      throw invalid('new EdgeVec(options): options must be an object such as { dimensions: 384 }');
    }
    checkKeys(options, INDEX_OPTIONS, 'new EdgeVec(options)');
    const { dimensions, metric = 'l2', quantization = 'none' } = options;
    if (typeof dimensions !== 'number') {
      throw invalid(`options.dimensions is required and must be a number; got ${describe(dimensions)}`);
    }
    if (typeof metric !== 'string') throw invalid(`metric must be a string; got ${describe(metric)}`);
    if (typeof quantization !== 'string') {
      throw invalid(`quantization must be a string; got ${describe(quantization)}`);
    }
    const n = (key) => optionalNumber(options, key);
    const m = n('m');
    const efConstruction = n('efConstruction');
    const efSearch = n('efSearch');
    const seed = n('seed');
    const trainSize = n('trainSize');
    const oversample = n('oversample');
    this.#raw = guard(
      () => new RawIndex(dimensions, metric, quantization, m, efConstruction, efSearch, seed, trainSize, oversample),
    );
  }

  /**
   * Opens an index from the bytes of a complete .evec file (from `save()`, the `edgevec` CLI or
   * the Rust API). Every checksum and field is verified; damaged bytes throw an EdgeVecError
   * with code 'CORRUPTED' (or 'UNSUPPORTED_VERSION').
   */
  static load(bytes) {
    requireReady();
    let view;
    if (bytes instanceof Uint8Array) view = bytes;
    else if (bytes instanceof ArrayBuffer) view = new Uint8Array(bytes);
    else if (ArrayBuffer.isView(bytes)) view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    else throw invalid(`EdgeVec.load(bytes): bytes must be a Uint8Array or an ArrayBuffer; got ${describe(bytes)}`);
    return new EdgeVec(FROM_RAW, guard(() => RawIndex.fromBytes(view)));
  }

  #index() {
    if (!this.#raw) throw new EdgeVecError('this EdgeVec was freed', 'FREED');
    return this.#raw;
  }

  /** Inserts a vector under a new id ('DUPLICATE_ID' if the id is present). */
  insert(id, vector) {
    const big = toId(id);
    const v = toVector(vector, 'vector');
    const raw = this.#index();
    guard(() => raw.insert(big, v));
  }

  /** Inserts or replaces the vector of `id`; returns whether one was replaced. */
  upsert(id, vector) {
    const big = toId(id);
    const v = toVector(vector, 'vector');
    const raw = this.#index();
    return guard(() => raw.upsert(big, v));
  }

  /**
   * Inserts `ids.length` vectors; `vectors` is flat, row after row (ids.length × dimensions
   * values). All or nothing: one bad row or duplicate id rejects the whole batch.
   */
  insertBatch(ids, vectors) {
    const big = toIds(ids);
    const v = toVector(vectors, 'vectors');
    const raw = this.#index();
    guard(() => raw.insertBatch(big, v));
  }

  /**
   * The `k` nearest live vectors, nearest first: `[{ id, distance }]`. Options: `ef` (beam
   * width, default the index's efSearch; larger is slower and more accurate) and `filter`
   * (`(id) => boolean`; only accepted ids are returned).
   */
  search(query, k, options = {}) {
    const q = toVector(query, 'query');
    if (typeof k !== 'number') throw invalid(`k must be a number; got ${describe(k)}`);
    if (options === null || typeof options !== 'object') throw invalid('search options must be an object');
    checkKeys(options, SEARCH_OPTIONS, 'search(query, k, options)');
    const ef = optionalNumber(options, 'ef');
    const { filter } = options;
    let wrapped;
    if (filter !== undefined && filter !== null) {
      if (typeof filter !== 'function') throw invalid(`filter must be a function (id) => boolean; got ${describe(filter)}`);
      wrapped = (id) => Boolean(filter(fromId(id)));
    }
    const raw = this.#index();
    return guard(() => {
      const ids = raw.search(q, k, ef, wrapped);
      const distances = raw.takeDistances();
      const hits = new Array(ids.length);
      for (let i = 0; i < ids.length; i++) hits[i] = { id: fromId(ids[i]), distance: distances[i] };
      return hits;
    });
  }

  /** Deletes `id`; returns whether it was present. Deleted vectors are never returned. */
  delete(id) {
    const big = toId(id);
    const raw = this.#index();
    return guard(() => raw.delete(big));
  }

  /** Frees the memory of deleted vectors; returns how many were removed. Ids do not change. */
  compact() {
    const raw = this.#index();
    return guard(() => raw.compact());
  }

  /** Whether `id` is present. */
  has(id) {
    const big = toId(id);
    const raw = this.#index();
    return guard(() => raw.contains(big));
  }

  /** The stored vector of `id` (normalized under cosine, decoded under quantization), or undefined. */
  get(id) {
    const big = toId(id);
    const raw = this.#index();
    return guard(() => raw.get(big));
  }

  /** Every present id, in no particular order. */
  ids() {
    const raw = this.#index();
    return Array.from(guard(() => raw.ids()), fromId);
  }

  /** The index as a Uint8Array holding a complete .evec file (open it with `EdgeVec.load` or the CLI). */
  save() {
    const raw = this.#index();
    return guard(() => raw.toBytes());
  }

  /** Releases the index's WebAssembly memory now; the object is unusable afterwards. */
  free() {
    const raw = this.#raw;
    this.#raw = undefined;
    raw?.free();
  }

  [dispose]() {
    this.free();
  }

  /** Number of vectors present (deleted ones excluded). */
  get size() {
    const raw = this.#index();
    return guard(() => raw.len());
  }

  /** Deleted vectors whose memory `compact()` would free. */
  get deletedCount() {
    const raw = this.#index();
    return guard(() => raw.deletedLen());
  }

  get dimensions() {
    return guard(() => this.#index().dimensions());
  }

  /** 'l2', 'cosine' or 'dot'. */
  get metric() {
    return guard(() => this.#index().metric());
  }

  /** 'none', 'u8', 'i8' or 'binary'. */
  get quantization() {
    return guard(() => this.#index().quantization());
  }

  get m() {
    return guard(() => this.#index().m());
  }

  get efConstruction() {
    return guard(() => this.#index().efConstruction());
  }

  get efSearch() {
    return guard(() => this.#index().efSearch());
  }

  /** Bytes of WebAssembly memory held, by part. */
  memoryUsage() {
    const [vectors, codes, graph, ids] = guard(() => this.#index().memoryBytes());
    return { vectors, codes, graph, ids, total: vectors + codes + graph + ids };
  }
}
