"""Could error bounds of the u8 codes spare some of the rows a rescoring reads?

    target/ann-venv/bin/python benches/ann/bounds.py target/ann-data/synthetic-100000x384 [l2|cosine]

A u8 search rescores its best ceil(1.5 k) candidates by code distance, reading each exact row
from the file (~0.55 us each at 384-d). The codes bound the exact distance: with x^ the decoded
row, r = x - x^ its residual and q^ the quantized query, the triangle inequality gives
|q - x| in [|q^ - x^| - |q - q^| - |r|, |q^ - x^| + |q - q^| + |r|] (symmetric distance, as
u8 `Uniform` computes it), or |q - x^| -/+ |r| if the query stayed in f32. Storing |r| per
vector (4 bytes) would let a rescoring read candidates in order of their lower bound and stop
once the next lower bound exceeds the k-th exact distance found: the same answers as reading
all of them. This encodes the base as `ScalarU8` (uniform step, min/max range) does, takes each
query's best P candidates by brute-force code distance (the walk's beam stands in for them),
and counts the rows such a rescoring reads, with the recall@10 of the P-candidate pool, and how
wide a bound is next to the exact distances it would have to separate.
"""

import sys

import numpy as np

K = 10
QUERIES = 200


def fvecs(path):
    a = np.fromfile(path, dtype=np.int32)
    return a.reshape(-1, a[0] + 1)[:, 1:].view(np.float32)


def ivecs(path):
    a = np.fromfile(path, dtype=np.int32)
    return a.reshape(-1, a[0] + 1)[:, 1:]


def main():
    root = sys.argv[1]
    metric = sys.argv[2] if len(sys.argv) > 2 else "l2"
    x = fvecs(f"{root}/base.fvecs").astype(np.float64)
    q = fvecs(f"{root}/query.fvecs")[:QUERIES].astype(np.float64)
    truth = ivecs(f"{root}/truth.ivecs")[:QUERIES, :K]
    if metric == "cosine":
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
    lo = x.min(0)
    step = (x.max(0) - lo).max() / 255
    xh = lo + step * np.clip(np.rint((x - lo) / step), 0, 255)
    qh = lo + step * np.clip(np.rint((q - lo) / step), 0, 255)
    res_x = np.linalg.norm(x - xh, axis=1)
    res_q = np.linalg.norm(q - qh, axis=1)
    print(f"step {step:.4g}; residual norm |r| mean {res_x.mean():.4g}, max {res_x.max():.4g}")
    print("| pool | distance | rows read (mean) | rows read (p90) | recall@10 of the pool |")
    print("|---:|---|---:|---:|---:|")
    for pool in (15, 16, 20, 32):
        for mode in ("symmetric", "f32 query"):
            reads, hits, spread = [], 0, []
            for i in range(len(q)):
                if mode == "symmetric":
                    approx = np.linalg.norm(xh - qh[i], axis=1)
                    width = res_x + res_q[i]
                else:
                    approx = np.linalg.norm(xh - q[i], axis=1)
                    width = res_x
                cand = np.argpartition(approx, pool)[:pool]
                lower = np.maximum(approx[cand] - width[cand], 0.0)
                order = np.argsort(lower)
                exact = []
                for c, lb in zip(cand[order], lower[order]):
                    if len(exact) >= K and lb > sorted(exact)[K - 1][0]:
                        break
                    exact.append((np.linalg.norm(x[c] - q[i]), c))
                reads.append(len(exact))
                if pool == 15:
                    d = np.sort(np.linalg.norm(x[cand] - q[i], axis=1))
                    spread.append(2 * np.median(width[cand]) / max(d[-1] - d[K - 1], 1e-30))
                hits += len({c for _, c in sorted(exact)[:K]} & set(truth[i]))
            print(
                f"| {pool} | {mode} | {np.mean(reads):.2f} | {np.percentile(reads, 90):.0f} "
                f"| {hits / (K * len(q)):.4f} |"
            )
            if spread:
                print(
                    f"|   | (pool 15: a bound's width is {np.median(spread):.1f}x the distance "
                    f"from the 10th to the 15th candidate, median) | | | |"
                )


if __name__ == "__main__":
    main()
