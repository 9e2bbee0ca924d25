"""Would a file ordered by locality let a query read its rescored rows in fewer reads?

    target/ann-venv/bin/python benches/ann/locality.py target/ann-data/synthetic-100000x384 [l2|cosine]

A u8 search reads the exact rows of its ~20 best candidates from the index file, one
positioned read each (about 0.5 us, of which ~0.1 us is the copy). If rows lay in an order
where near vectors sit near each other, the candidates of one query could be read with fewer,
longer reads. This takes the exact 20 nearest neighbours of 1,000 queries (faiss brute force,
standing in for the candidates), orders the base by recursive bisection along the principal
axis (leaves of 4 rows; a strong locality order), and counts for each query the reads needed
when candidates at most G rows apart share one read, and the rows those reads copy. The cost
column is calls x CALL_US + rows x ROW_US with the split measured by benches/rowread.
"""

import sys

import faiss
import numpy as np

CALL_US = 0.4
ROW_US = 0.1


def fvecs(path):
    a = np.fromfile(path, dtype=np.int32)
    d = a[0]
    return a.reshape(-1, d + 1)[:, 1:].view(np.float32)


def bisection_order(x, leaf, rng):
    out, stack = [], [np.arange(len(x))]
    while stack:
        ids = stack.pop()
        if len(ids) <= leaf:
            out.extend(ids.tolist())
            continue
        y = x[ids] - x[ids].mean(0)
        v = rng.standard_normal(x.shape[1]).astype(np.float32)
        for _ in range(8):  # power iteration: the principal axis
            v = y.T @ (y @ v)
            v /= np.linalg.norm(v)
        p = y @ v
        med = np.median(p)
        a, b = ids[p <= med], ids[p > med]
        if len(a) == 0 or len(b) == 0:
            out.extend(ids.tolist())
            continue
        stack += [b, a]
    pos = np.empty(len(x), dtype=np.int64)
    pos[np.array(out)] = np.arange(len(x))
    return pos


def cost(positions, gap):
    calls = rows = 0
    for r in positions:
        s = np.sort(r)
        d = np.diff(s)
        merged = d <= gap
        calls += 1 + int((~merged).sum())
        rows += 1 + int(d[merged].sum()) + int((~merged).sum())
    n = len(positions)
    return calls / n, rows / n, (calls * CALL_US + rows * ROW_US) / n


def main():
    data = sys.argv[1]
    x, q = fvecs(data + "/base.fvecs"), fvecs(data + "/query.fvecs")[:1000]
    if len(sys.argv) > 2 and sys.argv[2] == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
    index = faiss.IndexFlatL2(x.shape[1])
    index.add(x)
    _, near = index.search(q, 20)
    pos = bisection_order(x, 4, np.random.default_rng(1))
    print("| order | G | reads per query | rows copied | est. us per query |")
    print("|---|---:|---:|---:|---:|")
    for name, p in [("insertion (as built)", near), ("bisection", pos[near])]:
        for gap in [1, 2, 4, 8, 16, 32]:
            c, r, t = cost(p, gap)
            print(f"| {name} | {gap} | {c:.2f} | {r:.1f} | {t:.2f} |")


if __name__ == "__main__":
    main()
