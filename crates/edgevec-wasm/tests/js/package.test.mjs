// The npm package as users get it: `files` holds everything the JavaScript loads, a bare
// `import 'edgevec-wasm'` works from an installed copy, the types declare what the module
// exports, and the .wasm stays within its size budget.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { PKG, env, importPackage } from './helpers.mjs';

const SRC = env('EDGEVEC_PKG_SRC'); // the package folder `npm pack` packs
const SCRATCH = env('EDGEVEC_SCRATCH');
const manifest = JSON.parse(readFileSync(path.join(PKG, 'package.json'), 'utf8'));

/** What `npm pack` would put in the tarball. */
function packedFiles() {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--silent'], { cwd: SRC, encoding: 'utf8' });
  const [info] = JSON.parse(out);
  return new Set(info.files.map((f) => f.path));
}

/** Files a JavaScript module refers to: imports, re-exports, and quoted names of .js/.wasm files. */
function referencedFiles(file) {
  const text = readFileSync(path.join(PKG, file), 'utf8');
  const names = new Set();
  const patterns = [
    /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/g,
    /import\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /import\s+['"]([^'"]+)['"]/g,
    // (not object keys: wasm-bindgen names the .wasm's import namespace "./edgevec_wasm_bg.js")
    /['"]((?:\.{1,2}\/)?[\w./-]+\.(?:m?js|wasm))['"](?!\s*:)/g,
  ];
  for (const re of patterns) {
    for (const m of text.matchAll(re)) {
      const spec = m[1];
      if (spec.startsWith('node:') || /^[a-z]+:\/\//.test(spec)) continue;
      names.add(path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)));
    }
  }
  return names;
}

test('package.json: an ES module whose entry points are in the package', () => {
  assert.equal(manifest.name, 'edgevec-wasm');
  assert.match(manifest.version, /^\d+\.\d+\.\d+/);
  assert.equal(manifest.type, 'module');
  const files = packedFiles();
  for (const entry of [manifest.main, manifest.module, manifest.types, ...Object.values(manifest.exports['.']), ...Object.values(manifest.exports).filter((v) => typeof v === 'string')]) {
    assert.ok(files.has(path.posix.normalize(entry)), `${entry} is packed`);
  }
});

test('files: everything the JavaScript loads is packed, and the extracted copy has it all', () => {
  const files = packedFiles();
  const seen = new Set();
  const queue = [path.posix.normalize(manifest.exports['.'].default)];
  while (queue.length) {
    const file = queue.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    assert.ok(files.has(file), `${file} is loaded by the package but not in package.json "files"`);
    assert.ok(existsSync(path.join(PKG, file)), `${file} is missing from the extracted tarball`);
    if (/\.m?js$/.test(file)) queue.push(...referencedFiles(file));
  }
  for (const needed of ['edgevec.js', 'storage.js', 'edgevec_wasm.js', 'edgevec_wasm_bg.wasm']) {
    assert.ok(seen.has(needed), `${needed} is reachable from the entry module`);
  }
  for (const f of files) assert.ok(existsSync(path.join(PKG, f)), `${f} is in the tarball`);
  assert.ok(files.has('README.md') && files.has('edgevec.d.ts') && files.has('edgevec_wasm.d.ts'));
});

test('an installed copy works through a bare import, from another working directory', async () => {
  const app = path.join(SCRATCH, 'app');
  await rm(app, { recursive: true, force: true });
  await mkdir(path.join(app, 'node_modules'), { recursive: true });
  await symlink(PKG, path.join(app, 'node_modules', 'edgevec-wasm'), 'dir');
  await writeFile(
    path.join(app, 'main.mjs'),
    `import { init, EdgeVec, simdBackend } from 'edgevec-wasm';
await init();
const db = new EdgeVec({ dimensions: 3, metric: 'cosine' });
db.insert(1, new Float32Array([1, 0, 0]));
db.insert(2n, new Float32Array([0, 1, 0]));
const again = EdgeVec.load(db.save());
console.log(JSON.stringify({ simd: simdBackend(), hits: again.search(new Float32Array([0.1, 1, 0]), 2) }));
`,
  );
  const out = execFileSync(process.execPath, [path.join(app, 'main.mjs')], { cwd: '/', encoding: 'utf8' });
  const result = JSON.parse(out);
  assert.equal(result.simd, 'simd128');
  assert.deepEqual(result.hits.map((h) => h.id), [2, 1]);
});

test('edgevec.d.ts declares exactly the values the module exports', async () => {
  const mod = await importPackage();
  const dts = readFileSync(path.join(PKG, 'edgevec.d.ts'), 'utf8');
  const declared = new Set([...dts.matchAll(/^export (?:declare )?(?:function|class|const) (\w+)/gm)].map((m) => m[1]));
  assert.deepEqual([...declared].sort(), Object.keys(mod).sort());
  // The EdgeVec class: every method and property the types name exists.
  const cls = dts.slice(dts.indexOf('export class EdgeVec {'));
  const body = cls.slice(0, cls.indexOf('\n}'));
  for (const m of body.matchAll(/^ {2}(?:readonly |static )?(\w+)[(:]/gm)) {
    const name = m[1];
    if (name === 'constructor') continue;
    const where = name === 'load' ? mod.EdgeVec : mod.EdgeVec.prototype;
    assert.ok(name in where, `EdgeVec.${name} is declared but does not exist`);
  }
});

test('the .wasm: within the size budget (gzip -9 <= 150,000 bytes)', () => {
  const wasm = readFileSync(path.join(PKG, 'edgevec_wasm_bg.wasm'));
  const gz = gzipSync(wasm, { level: 9 }).length;
  console.log(`edgevec_wasm_bg.wasm: ${wasm.length} bytes, ${gz} gzipped`);
  assert.ok(gz <= 150_000, `${gz} bytes gzipped`);
  // simd128 is required to instantiate (the xtask also counts its SIMD instructions).
  assert.ok(WebAssembly.validate(wasm));
});
