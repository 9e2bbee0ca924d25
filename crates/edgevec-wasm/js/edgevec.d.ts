// Types of the edgevec-wasm package (the module edgevec.js). See README.md.

/** An id: a non-negative safe integer number, or a bigint below 2^64. */
export type Id = number | bigint;

/** What went wrong, in every EdgeVecError. */
export type EdgeVecErrorCode =
  | 'NOT_INITIALIZED'
  | 'INIT_FAILED'
  | 'INVALID_ARGUMENT'
  | 'INVALID_ID'
  | 'INVALID_VECTOR'
  | 'DIMENSION_MISMATCH'
  | 'DUPLICATE_ID'
  | 'CAPACITY_EXCEEDED'
  | 'CORRUPTED'
  | 'UNSUPPORTED_VERSION'
  | 'FREED'
  | 'INVALID_STATE'
  | 'STORAGE_ERROR'
  | 'UNSUPPORTED'
  | 'INTERNAL';

export class EdgeVecError extends Error {
  constructor(message: string, code: EdgeVecErrorCode, options?: { cause?: unknown });
  readonly name: 'EdgeVecError';
  readonly code: EdgeVecErrorCode;
}

/**
 * Loads the WebAssembly module; await it once before anything else (later calls return the
 * same promise). `source` overrides where the .wasm comes from.
 */
export function init(
  source?: URL | string | Response | BufferSource | WebAssembly.Module | Promise<Response>,
): Promise<void>;

/** Whether init() has completed. */
export function isInitialized(): boolean;

/** The SIMD backend of the distance kernels ('simd128'). */
export function simdBackend(): string;

export type Metric = 'l2' | 'cosine' | 'dot';
export type Quantization = 'none' | 'u8' | 'i8' | 'binary';

export interface EdgeVecOptions {
  /** Dimensions of every vector (required; 1 to 65,536). */
  dimensions: number;
  /** Distance: 'l2' (squared Euclidean, the default), 'cosine' (1 - cosine similarity) or 'dot' (negated dot product). */
  metric?: Metric;
  /**
   * 'none' (f32 rows, the default), 'u8' or 'i8' (1 byte per dimension) or 'binary' (1 bit per
   * dimension); quantized indexes rescore candidates with exact distances.
   */
  quantization?: Quantization;
  /** HNSW M, neighbours per node (default 16, 2 to 128). */
  m?: number;
  /** Beam width while building (default 200). */
  efConstruction?: number;
  /** Default beam width of searches (default 64). */
  efSearch?: number;
  /** Seed of the level generator (default fixed): same seed and insertion order, same index. */
  seed?: number;
  /** Vectors a quantized index collects (searched exactly) before training its codec (default 1024). */
  trainSize?: number;
  /**
   * Candidates rescored per result under quantization: a search for k results rescores the best
   * ⌈k × oversample⌉ candidates of its code search. A number from 1 to 1000 (kept to three
   * decimals); default 1.5 for u8 and i8 (10 for i8 under dot), 40 for binary.
   */
  oversample?: number;
}

export interface SearchOptions {
  /** Beam width (default: the index's efSearch). At least k is used. */
  ef?: number;
  /** Only ids for which this returns true are returned. */
  filter?: ((id: Id) => boolean) | null;
}

export interface Hit {
  /** A number when it is at most Number.MAX_SAFE_INTEGER, a bigint otherwise. */
  id: Id;
  /** Smaller is nearer. */
  distance: number;
}

export interface MemoryUsage {
  vectors: number;
  codes: number;
  graph: number;
  ids: number;
  total: number;
}

export class EdgeVec {
  constructor(options: EdgeVecOptions);
  /** Opens the bytes of a complete .evec file, verifying every checksum. */
  static load(bytes: Uint8Array | ArrayBuffer | ArrayBufferView): EdgeVec;

  insert(id: Id, vector: Float32Array | ArrayLike<number>): void;
  upsert(id: Id, vector: Float32Array | ArrayLike<number>): boolean;
  /** `vectors` is flat: ids.length × dimensions values, row after row. */
  insertBatch(
    ids: ArrayLike<Id> | Uint32Array | BigUint64Array,
    vectors: Float32Array | ArrayLike<number>,
  ): void;
  /** The k nearest vectors, nearest first. */
  search(query: Float32Array | ArrayLike<number>, k: number, options?: SearchOptions): Hit[];
  delete(id: Id): boolean;
  /** Frees deleted vectors; returns how many. */
  compact(): number;
  has(id: Id): boolean;
  get(id: Id): Float32Array | undefined;
  ids(): Id[];
  /** A complete .evec file. */
  save(): Uint8Array;
  /** Releases the WebAssembly memory now. */
  free(): void;
  memoryUsage(): MemoryUsage;

  readonly size: number;
  readonly deletedCount: number;
  readonly dimensions: number;
  readonly metric: Metric;
  readonly quantization: Quantization;
  readonly m: number;
  readonly efConstruction: number;
  readonly efSearch: number;
}

export interface IndexedDBOptions {
  /** The IndexedDB database (default 'edgevec'). */
  dbName?: string;
}

/** Saves atomically; resolves to the bytes stored. */
export function saveToIndexedDB(db: EdgeVec, key: string, options?: IndexedDBOptions): Promise<number>;
/** Loads and verifies; null when nothing is saved under `key`. */
export function loadFromIndexedDB(key: string, options?: IndexedDBOptions): Promise<EdgeVec | null>;
export function deleteFromIndexedDB(key: string, options?: IndexedDBOptions): Promise<boolean>;

/** Saves atomically in the Origin Private File System; resolves to the bytes written. */
export function saveToOPFS(db: EdgeVec, name: string): Promise<number>;
/** Loads and verifies; null when nothing is saved under `name`. */
export function loadFromOPFS(name: string): Promise<EdgeVec | null>;
export function deleteFromOPFS(name: string): Promise<boolean>;
