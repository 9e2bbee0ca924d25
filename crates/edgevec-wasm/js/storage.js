// Browser persistence for EdgeVec: IndexedDB and the Origin Private File System (OPFS).
//
// Both store the bytes of a complete .evec file (EdgeVec#save), so what is stored is exactly
// what the CLI and the Rust API read and write, and loading goes through EdgeVec.load, which
// verifies every checksum. Both are atomic: a crash, a closed tab or a full disk during a save
// leaves the previous version loadable.
//
// IndexedDB: one readwrite transaction (durability 'strict') puts the new bytes under a new
// generation key, points the name at it and deletes the old generation. IndexedDB commits a
// transaction entirely or not at all, so readers see the old pointer and bytes or the new ones.
//
// OPFS: the directory 'edgevec' holds NAME.GENERATION.evec files. A save writes generation
// g + 1 completely, closes it, and only then removes the older generations. A load tries the
// newest generation first and falls back to the one before only when the newest does not
// verify (a save interrupted mid-write leaves exactly that situation); a single damaged
// generation is reported as an error, never skipped silently.

import { EdgeVec, EdgeVecError } from './edgevec.js';

const DEFAULT_DB = 'edgevec';
const POINTERS = 'pointers';
const BLOBS = 'blobs';
const OPFS_DIR = 'edgevec';

function checkName(name, what) {
  if (typeof name !== 'string' || name.length === 0) {
    throw new EdgeVecError(`${what}: the name must be a non-empty string; got ${String(name)}`, 'INVALID_ARGUMENT');
  }
}

function checkIndex(db, what) {
  if (!(db instanceof EdgeVec)) {
    throw new EdgeVecError(`${what}: the first argument must be an EdgeVec`, 'INVALID_ARGUMENT');
  }
}

function storageError(what, e) {
  if (e instanceof EdgeVecError) return e;
  const name = e?.name ? `${e.name}: ` : '';
  return new EdgeVecError(`${what} failed: ${name}${e?.message ?? e}`, 'STORAGE_ERROR', { cause: e });
}

// ---------------------------------------------------------------------------------------------
// IndexedDB

function openDatabase(dbName) {
  if (typeof indexedDB === 'undefined') {
    return Promise.reject(new EdgeVecError('IndexedDB is not available here', 'UNSUPPORTED'));
  }
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(dbName, 1);
    request.onupgradeneeded = () => {
      const idb = request.result;
      if (!idb.objectStoreNames.contains(POINTERS)) idb.createObjectStore(POINTERS);
      if (!idb.objectStoreNames.contains(BLOBS)) idb.createObjectStore(BLOBS);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error(`database "${dbName}" is blocked by another open connection`));
  });
}

function finished(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('the transaction was aborted'));
  });
}

function requested(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * Saves `db` under `key` in IndexedDB (database `options.dbName`, default 'edgevec'),
 * atomically. Resolves to the number of bytes stored once the transaction has committed.
 */
export async function saveToIndexedDB(db, key, options = {}) {
  const what = `saveToIndexedDB(db, ${JSON.stringify(key)})`;
  checkIndex(db, what);
  checkName(key, what);
  const bytes = db.save();
  let idb;
  try {
    idb = await openDatabase(options.dbName ?? DEFAULT_DB);
    const tx = idb.transaction([POINTERS, BLOBS], 'readwrite', { durability: 'strict' });
    const done = finished(tx);
    const pointers = tx.objectStore(POINTERS);
    const blobs = tx.objectStore(BLOBS);
    const read = pointers.get(key);
    read.onsuccess = () => {
      const old = read.result;
      const generation = (old?.generation ?? 0) + 1;
      blobs.put(bytes, [key, generation]);
      pointers.put({ generation, length: bytes.length, savedAt: Date.now() }, key);
      if (old) blobs.delete([key, old.generation]);
    };
    await done;
    return bytes.length;
  } catch (e) {
    throw storageError(what, e);
  } finally {
    idb?.close();
  }
}

/**
 * Loads the EdgeVec saved under `key`, verifying every checksum; resolves to null when
 * nothing is saved under `key`. Damaged bytes reject with an EdgeVecError ('CORRUPTED').
 */
export async function loadFromIndexedDB(key, options = {}) {
  const what = `loadFromIndexedDB(${JSON.stringify(key)})`;
  checkName(key, what);
  let idb;
  let pointer;
  let bytes;
  try {
    idb = await openDatabase(options.dbName ?? DEFAULT_DB);
    const tx = idb.transaction([POINTERS, BLOBS], 'readonly');
    const done = finished(tx);
    pointer = await requested(tx.objectStore(POINTERS).get(key));
    if (pointer) bytes = await requested(tx.objectStore(BLOBS).get([key, pointer.generation]));
    await done;
  } catch (e) {
    throw storageError(what, e);
  } finally {
    idb?.close();
  }
  if (!pointer) return null;
  if (!(bytes instanceof Uint8Array)) {
    throw new EdgeVecError(`${what}: the saved bytes of generation ${pointer.generation} are missing`, 'CORRUPTED');
  }
  return EdgeVec.load(bytes);
}

/** Deletes what is saved under `key`; resolves to whether there was something. */
export async function deleteFromIndexedDB(key, options = {}) {
  const what = `deleteFromIndexedDB(${JSON.stringify(key)})`;
  checkName(key, what);
  let idb;
  try {
    idb = await openDatabase(options.dbName ?? DEFAULT_DB);
    const tx = idb.transaction([POINTERS, BLOBS], 'readwrite', { durability: 'strict' });
    const done = finished(tx);
    const pointers = tx.objectStore(POINTERS);
    const pointer = await requested(pointers.get(key));
    if (pointer) {
      pointers.delete(key);
      tx.objectStore(BLOBS).delete([key, pointer.generation]);
    }
    await done;
    return Boolean(pointer);
  } catch (e) {
    throw storageError(what, e);
  } finally {
    idb?.close();
  }
}

// ---------------------------------------------------------------------------------------------
// OPFS

async function opfsDirectory() {
  if (typeof navigator === 'undefined' || !navigator.storage?.getDirectory) {
    throw new EdgeVecError('the Origin Private File System is not available here', 'UNSUPPORTED');
  }
  const root = await navigator.storage.getDirectory();
  return root.getDirectoryHandle(OPFS_DIR, { create: true });
}

/** The generations saved under `name`, newest first: [{ generation, fileName }]. */
async function generations(dir, name) {
  const prefix = `${encodeURIComponent(name)}.`;
  const found = [];
  for await (const [fileName, handle] of dir.entries()) {
    if (handle.kind !== 'file' || !fileName.startsWith(prefix)) continue;
    const m = /^(\d+)\.evec$/.exec(fileName.slice(prefix.length));
    if (m) found.push({ generation: Number(m[1]), fileName });
  }
  return found.sort((a, b) => b.generation - a.generation);
}

/**
 * Saves `db` under `name` in the Origin Private File System (directory 'edgevec'),
 * atomically. Resolves to the number of bytes written.
 */
export async function saveToOPFS(db, name) {
  const what = `saveToOPFS(db, ${JSON.stringify(name)})`;
  checkIndex(db, what);
  checkName(name, what);
  const bytes = db.save();
  try {
    const dir = await opfsDirectory();
    const older = await generations(dir, name);
    const generation = (older[0]?.generation ?? 0) + 1;
    const fileName = `${encodeURIComponent(name)}.${generation}.evec`;
    const file = await dir.getFileHandle(fileName, { create: true });
    const writable = await file.createWritable();
    try {
      await writable.write(bytes);
      await writable.close();
    } catch (e) {
      await writable.abort().catch(() => {});
      await dir.removeEntry(fileName).catch(() => {});
      throw e;
    }
    // The new generation is complete: only now may the older ones go.
    for (const g of older) await dir.removeEntry(g.fileName).catch(() => {});
    return bytes.length;
  } catch (e) {
    throw storageError(what, e);
  }
}

/**
 * Loads the EdgeVec saved under `name` in OPFS, verifying every checksum; resolves to null
 * when nothing is saved under `name`.
 */
export async function loadFromOPFS(name) {
  const what = `loadFromOPFS(${JSON.stringify(name)})`;
  checkName(name, what);
  let dir;
  let found;
  try {
    dir = await opfsDirectory();
    found = await generations(dir, name);
  } catch (e) {
    throw storageError(what, e);
  }
  let firstError;
  for (const [i, g] of found.entries()) {
    let bytes;
    try {
      const file = await (await dir.getFileHandle(g.fileName)).getFile();
      bytes = new Uint8Array(await file.arrayBuffer());
    } catch (e) {
      firstError ??= storageError(what, e);
      continue;
    }
    try {
      return EdgeVec.load(bytes);
    } catch (e) {
      firstError ??= e;
      // Only the newest generation may be an interrupted save; an older one is the fallback.
      if (i >= 1) break;
    }
  }
  if (firstError) throw firstError;
  return null;
}

/** Deletes every generation saved under `name`; resolves to whether there was one. */
export async function deleteFromOPFS(name) {
  const what = `deleteFromOPFS(${JSON.stringify(name)})`;
  checkName(name, what);
  try {
    const dir = await opfsDirectory();
    const found = await generations(dir, name);
    for (const g of found) await dir.removeEntry(g.fileName);
    return found.length > 0;
  } catch (e) {
    throw storageError(what, e);
  }
}
