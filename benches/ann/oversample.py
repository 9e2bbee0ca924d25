"""Recall and QPS of one quantized EdgeVec index at several rescoring factors (`--oversample`).

    target/ann-venv/bin/python benches/ann/oversample.py --edgevec target/release/edgevec \
        --index IDX.evec --queries Q.fvecs --truth T.ivecs [--timing-queries Q2.fvecs] \
        [--ef 16,24,32,64,128] [--oversample 1,1.5,2] [--rounds 3] [--rows-in-memory]

Every round runs `edgevec search --threads 1` at every (ef, factor) pair in turn, so a change of
load on the machine touches all pairs alike; the table gives recall@10 against the exact truth
(from --queries) and the median QPS over the rounds (from --timing-queries, default --queries:
give a few thousand queries or more so that one search lasts long enough to time). A search for
k = 10 rescores the best ⌈10 × factor⌉ candidates of a graph walk whose beam is
max(ef, ⌈10 × factor⌉). Make the index with `edgevec build --quantization u8` (or i8, binary).
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

import numpy as np

K = 10


def ivecs(path):
    a = np.fromfile(path, dtype=np.int32)
    return a.reshape(-1, a[0] + 1)[:, 1:]


def search(args, queries, ef, factor, out=None):
    cmd = [args.edgevec, "search", "--index", args.index, "--queries", queries, "--k", str(K),
           "--ef", str(ef), "--oversample", str(factor), "--threads", "1"]
    if args.rows_in_memory:
        cmd.append("--rows-in-memory")
    if out:
        cmd += ["--output", out]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--edgevec", required=True)
    ap.add_argument("--index", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--truth", required=True)
    ap.add_argument("--timing-queries")
    ap.add_argument("--ef", default="16,24,32,64,128")
    ap.add_argument("--oversample", default="1,1.5,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rows-in-memory", action="store_true")
    args = ap.parse_args()
    efs = [int(e) for e in args.ef.split(",")]
    factors = [float(f) for f in args.oversample.split(",")]
    info = subprocess.run([args.edgevec, "info", "--index", args.index], check=True,
                          capture_output=True, text=True)
    if json.loads(info.stdout)["quantization"] == "none":
        raise SystemExit(f"{args.index} is an f32 index: it rescores nothing, every factor is one")
    truth = ivecs(args.truth)[:, :K]
    recall = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "hits.ivecs")
        for ef in efs:
            for f in factors:
                search(args, args.queries, ef, f, out)
                hits = ivecs(out)
                if len(hits) != len(truth):
                    raise SystemExit(f"{len(hits)} answers for {len(truth)} rows of truth: "
                                     "--queries and --truth must match")
                found = sum(len(set(h) & set(t)) for h, t in zip(hits, truth))
                recall[ef, f] = found / truth.size
    timing = args.timing_queries or args.queries
    qps = {key: [] for key in recall}
    for _ in range(args.rounds):
        for ef in efs:
            for f in factors:
                qps[ef, f].append(search(args, timing, ef, f)["qps"])
    print(f"index {args.index}; recall@{K} from {args.queries}, median QPS of {args.rounds} "
          f"rounds from {timing}{'; rows in memory' if args.rows_in_memory else ''}\n")
    print("| ef | " + " | ".join(f"x{f:g} recall / QPS" for f in factors) + " |")
    print("|---:|" + "---:|" * len(factors))
    for ef in efs:
        cells = [f"{recall[ef, f]:.4f} / {statistics.median(qps[ef, f]):,.0f}" for f in factors]
        print(f"| {ef} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
