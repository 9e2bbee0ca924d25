#!/usr/bin/env python3
"""Measure simsimd on the exact vectors EdgeVec's simd_report dumped.

Usage (normally run by `cargo xtask bench-simd`, which prepares the venv and the data):

    python benches/peers/simsimd_bench.py --data DIR [--json FILE] [--quick]
        [--rounds N] [--min-sample-ms X]

DIR is what `simd_report --dump DIR` wrote: manifest.json plus raw little-endian files of
`pairs x dim` rows. For every dimension and kernel this script calls simsimd's batch (row-wise)
API once per sample on all pairs -- e.g. `simsimd.dot(A, B, out=out)` with A and B of shape
(pairs, dim) computes one result per row pair -- so Python's call overhead is spread over the
whole batch. `dot_many` / `l2_squared_many` use `simsimd.cdist(query, rows, threads=1)`.
Everything is single-threaded. The figure is the median, over the rounds, of ns per pair (row).

Before timing, simsimd's results on the first pairs are compared with the scalar results
simd_report stored in the manifest (exact for integer kernels; relative tolerance for f32).

No simsimd code lives in this repository: it is pip-installed into a git-ignored venv.
"""

import argparse
import ctypes
import json
import os
import platform
import sys
import time

import numpy as np
import simsimd

# kernel name (as simd_report names it) -> (element kind, simsimd call)
# Each call takes (A, B, out) and writes one float64 per row into out.
KERNELS = {
    "dot": ("f32", lambda a, b, out: simsimd.dot(a, b, out=out)),
    "l2_squared": ("f32", lambda a, b, out: simsimd.sqeuclidean(a, b, out=out)),
    "cosine_distance": ("f32", lambda a, b, out: simsimd.cosine(a, b, out=out)),
    "dot_u8": ("u8", lambda a, b, out: simsimd.dot(a, b, out=out)),
    "l2_squared_u8": ("u8", lambda a, b, out: simsimd.sqeuclidean(a, b, out=out)),
    "dot_i8": ("i8", lambda a, b, out: simsimd.dot(a, b, out=out)),
    "l2_squared_i8": ("i8", lambda a, b, out: simsimd.sqeuclidean(a, b, out=out)),
    "hamming": ("bits", lambda a, b, out: simsimd.hamming(a, b, "bin8", out=out)),
}
# One query against all rows: (simsimd cdist metric)
MANY = {"dot_many": "dot", "l2_squared_many": "sqeuclidean"}

DTYPES = {"f32": np.dtype("<f4"), "u8": np.dtype("u1"), "i8": np.dtype("i1"), "bits": np.dtype("u1")}


def load(data_dir, files, kind, side, rows, cols):
    path = os.path.join(data_dir, files[f"{kind}_{side}"])
    arr = np.fromfile(path, dtype=DTYPES[kind])
    if arr.size != rows * cols:
        sys.exit(f"simsimd_bench: {path}: {arr.size} values, expected {rows} x {cols}")
    return np.ascontiguousarray(arr.reshape(rows, cols))


def none_leak_per_call(fn):
    """How many references to None one call of `fn` drops.

    simsimd 6.5 returns None from its `out=` forms without taking a reference to it; on Python
    versions where None is not immortal (< 3.12) enough calls free None and abort the
    interpreter. We measure the leak once and give the references back before each sample.
    """
    before = sys.getrefcount(None)
    for _ in range(10):
        fn()
    return max(0, (before - sys.getrefcount(None)) // 10)


LEAK = {"per_call": 0}


def give_back_none(calls):
    for _ in range(calls * LEAK["per_call"]):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(None))


def time_call(fn, reps):
    give_back_none(reps)
    start = time.perf_counter_ns()
    for _ in range(reps):
        fn()
    return time.perf_counter_ns() - start


def measure(fn, items, rounds, min_sample_ns):
    """Median over `rounds` samples of ns per item; each sample lasts >= min_sample_ns."""
    time_call(fn, 1)  # warm up
    one = max(time_call(fn, 1), 1)
    reps = max(1, -(-int(min_sample_ns) // one))
    samples = sorted(time_call(fn, reps) / reps / items for _ in range(rounds))
    mid = len(samples) // 2
    return samples[mid] if len(samples) % 2 else (samples[mid - 1] + samples[mid]) / 2


def check(name, dim, got, want, exact):
    got = np.asarray(got[: len(want)], dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if exact:
        ok = np.array_equal(got, want)
        err = float(np.max(np.abs(got - want))) if len(want) else 0.0
    else:
        # f32 sums in a different order (and simsimd's cosine uses an approximate rsqrt).
        err = float(np.max(np.abs(got - want) / (1.0 + np.abs(want)))) if len(want) else 0.0
        ok = err <= 1e-3
    return {"kernel": name, "dim": dim, "ok": bool(ok), "max_err": err}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="directory written by simd_report --dump")
    p.add_argument("--json", help="write the measurements here")
    p.add_argument("--quick", action="store_true", help="few short rounds (smoke test)")
    p.add_argument("--rounds", type=int)
    p.add_argument("--min-sample-ms", type=float)
    args = p.parse_args()
    rounds = args.rounds or (5 if args.quick else 21)
    min_sample_ns = (args.min_sample_ms or (0.5 if args.quick else 4.0)) * 1e6

    with open(os.path.join(args.data, "manifest.json")) as f:
        manifest = json.load(f)
    pairs = manifest["pairs"]
    caps = simsimd.get_capabilities()
    enabled = sorted(k for k, v in caps.items() if v)
    print(f"simsimd {simsimd.__version__}: capabilities {', '.join(enabled)}", file=sys.stderr)

    probe, probe_out = np.ones((2, 8), dtype=np.float32), np.empty(2)
    LEAK["per_call"] = none_leak_per_call(lambda: simsimd.dot(probe, probe, out=probe_out))
    leak_found = LEAK["per_call"]
    give_back_none(10)

    results, checks = [], []
    for s in manifest["sets"]:
        dim, files, want = s["dim"], s["files"], s["scalar_check"]
        cols = {"f32": dim, "u8": dim, "i8": dim, "bits": s["bits_bytes"]}
        arrays = {
            kind: (load(args.data, files, kind, "a", pairs, cols[kind]),
                   load(args.data, files, kind, "b", pairs, cols[kind]))
            for kind in cols
        }
        out = np.empty(pairs, dtype=np.float64)
        for name, (kind, call) in KERNELS.items():
            a, b = arrays[kind]
            time_call(lambda: call(a, b, out), 1)
            checks.append(check(name, dim, out, want[name], exact=kind != "f32"))
            ns = measure(lambda: call(a, b, out), pairs, rounds, min_sample_ns)
            results.append({"kernel": name, "dim": dim, "elem": kind, "unit": "pair", "ns": ns})
        query, rows = arrays["f32"][0][:1], arrays["f32"][1]
        out2 = np.empty((1, pairs), dtype=np.float64)
        for name, metric in MANY.items():
            def run(metric=metric):
                simsimd.cdist(query, rows, metric=metric, out=out2, threads=1)
            time_call(run, 1)
            checks.append(check(name, dim, out2[0], want[name], exact=False))
            ns = measure(run, pairs, rounds, min_sample_ns)
            results.append({"kernel": name, "dim": dim, "elem": "f32", "unit": "row", "ns": ns})

    bad = [c for c in checks if not c["ok"]]
    for c in bad:
        print(f"simsimd_bench: MISMATCH {c['kernel']} dim {c['dim']}: max error {c['max_err']:.3g}",
              file=sys.stderr)
    print(f"simsimd_bench: sanity check against EdgeVec's scalar results: "
          f"{len(checks) - len(bad)}/{len(checks)} kernel x dim agree", file=sys.stderr)

    print(f"| kernel | dim | simsimd ns per pair/row |\n|---|---:|---:|")
    for r in results:
        print(f"| {r['kernel']} | {r['dim']} | {r['ns']:.2f} |")

    doc = {
        "tool": "simsimd_bench",
        "simsimd_version": simsimd.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "capabilities": enabled,
        "api": "row-wise batch calls (simsimd.dot/sqeuclidean/cosine/hamming on (pairs, dim) "
               "arrays, out= preallocated); cdist(query, rows, threads=1) for *_many",
        "pairs": pairs,
        "rounds": rounds,
        "min_sample_ms": min_sample_ns / 1e6,
        "none_refcount_leak_per_out_call": leak_found,
        "sanity_ok": not bad,
        "checks": checks,
        "results": results,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        print(f"simsimd_bench: measurements written to {args.json}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
