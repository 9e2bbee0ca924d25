"""EdgeVec vs hnswlib searched in alternation, for a machine that is not idle.

    target/ann-venv/bin/python benches/ann/interleaved.py --edgevec target/release/edgevec \
        --index IDX.evec --base BASE.fvecs --queries Q.fvecs --truth T.ivecs \
        --space l2|cosine [--ef 16,32,64] [--rounds 5] [--hnswlib-index FILE]

The side-by-side harness (run.sh) runs each library's searches one after the other, so on a
shared machine a change of load between them skews the ratios. Here every round searches with
hnswlib (the pinned 0.8.0 from run.sh's venv; one batch knn_query of all queries, one thread)
and then with `edgevec search --threads 1` (search time only), at every ef, so both see the
same load; the table gives recall@10 and the median QPS over the rounds, and the QPS ratio at
each ef. The hnswlib index (M = 16, ef_construction = 200, one thread, seed 1) is built once
and kept in --hnswlib-index (default: next to the EdgeVec index). The EdgeVec index is made
with `edgevec build` beforehand. Quote run.sh's figures from an idle machine; use this to
steer work in between.
"""
import argparse, json, os, statistics, subprocess, time

import hnswlib
import numpy as np


def fvecs(path):
    a = np.fromfile(path, dtype=np.int32)
    return a.reshape(-1, a[0] + 1)[:, 1:].view(np.float32).copy()


def ivecs(path):
    a = np.fromfile(path, dtype=np.int32)
    return a.reshape(-1, a[0] + 1)[:, 1:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--edgevec", required=True)
    ap.add_argument("--index", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--truth", required=True)
    ap.add_argument("--space", choices=["l2", "cosine"], required=True)
    ap.add_argument("--ef", default="16,32,64")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--hnswlib-index")
    a = ap.parse_args()
    queries = fvecs(a.queries)
    truth = ivecs(a.truth)[:, :10]
    dim = queries.shape[1]
    hn_path = a.hnswlib_index or a.index + ".hnswlib"
    hn = hnswlib.Index(space=a.space, dim=dim)
    if os.path.exists(hn_path):
        hn.load_index(hn_path)
    else:
        base = fvecs(a.base)
        hn.init_index(max_elements=len(base), M=16, ef_construction=200, random_seed=1)
        hn.set_num_threads(1)
        t = time.perf_counter()
        hn.add_items(base, np.arange(len(base)))
        print(f"hnswlib build, 1 thread: {time.perf_counter() - t:.1f} s", flush=True)
        hn.save_index(hn_path)
    hn.set_num_threads(1)

    def recall(ids):
        return float(np.mean([len(set(ids[i][:10]) & set(truth[i])) / 10 for i in range(len(truth))]))

    out = a.index + ".interleaved.ivecs"
    print("| ef | hnswlib recall@10 | hnswlib QPS | EdgeVec recall@10 | EdgeVec QPS | QPS ratio |")
    print("|---:|---:|---:|---:|---:|---:|")
    for ef in [int(e) for e in a.ef.split(",")]:
        hq, eq = [], []
        for _ in range(a.rounds):
            hn.set_ef(ef)
            t = time.perf_counter()
            labels, _ = hn.knn_query(queries, k=10)
            hq.append(len(queries) / (time.perf_counter() - t))
            hr = recall(labels)
            res = subprocess.run(
                [a.edgevec, "search", "--index", a.index, "--queries", a.queries, "--k", "10",
                 "--ef", str(ef), "--output", out],
                capture_output=True, text=True, check=True)
            eq.append(json.loads(res.stdout)["qps"])
            er = recall(ivecs(out))
        h, e = statistics.median(hq), statistics.median(eq)
        print(f"| {ef} | {hr:.4f} | {h:,.0f} | {er:.4f} | {e:,.0f} | {e / h:.2f}x |", flush=True)
    os.remove(out)


if __name__ == "__main__":
    main()
