#!/usr/bin/env python3
"""Side-by-side ANN benchmark: EdgeVec (through the `edgevec` CLI) against hnswlib, faiss and
usearch on the same machine, data and parameters.

Normally run by `bash benches/ann/run.sh`, which prepares the venv, the release CLI and the
data, then calls:

    python benches/ann/bench.py --edgevec target/release/edgevec \
        --dataset glove=DIR --dataset synthetic=DIR [--quick] --out docs/bench --work DIR

Protocol (printed into the output too): k = 10, M = 16, ef_construction = 200, one thread for
building and for searching in every library (plus one EdgeVec row built with 2 threads), every
query of the set searched as one batch, only the search call timed (best of --repeats runs per
ef), recall@10 against exact ground truth. Every index is built in its own process, saved, and
searched by a fresh process that loads it from disk, so memory is measured the same way for
everyone (see RAM_NOTE).

`--from-json docs/bench/ann.json --out docs/bench` rewrites only the markdown and the plots
from a saved run.

The script also has two internal subcommands, `peer-build` and `peer-search`, which run one
peer library in a fresh Python process; the driver starts them.
"""

import argparse
import datetime
import gc
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

K = 10
M = 16
EF_CONSTRUCTION = 200
EFS_FULL = [16, 32, 64, 128, 256]
EFS_QUICK = [16, 64]
TARGET_RECALL = 0.95

# Environment of every worker: no library may spawn extra threads behind our back.
ONE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "RAYON_NUM_THREADS": "1",
}

DATASETS = {
    "glove": {
        "metric": "cosine",
        "files": ("glove50_base.fvecs", "glove50_query.fvecs", "glove50_gt100.ivecs"),
        "source": "GloVe 6B 50-d (benches/data/make_glove.sh), vectors not normalized",
    },
    "synthetic": {
        "metric": "l2",
        "files": ("base.fvecs", "query.fvecs", "truth.ivecs"),
        "source": "clustered synthetic embeddings (edgevec-graph example `ann --synthetic "
        "--dump`, seed 7: 100 clusters)",
    },
}

# (key, label, kind, options); the order is the order of the tables.
CONFIGS = [
    ("hnswlib", "hnswlib 0.8.0 (f32)", "peer", {}),
    ("faiss", "faiss IndexHNSWFlat (f32)", "peer", {}),
    ("usearch", "usearch (f32)", "peer", {}),
    ("edgevec-f32", "EdgeVec f32", "edgevec", {"quantization": "none", "threads": 1}),
    ("edgevec-u8", "EdgeVec u8 + exact rescoring", "edgevec", {"quantization": "u8", "threads": 1}),
    (
        "edgevec-u8-rim",
        "EdgeVec u8 + exact rescoring, rows in RAM",
        "edgevec",
        {"quantization": "u8", "threads": 1, "rows_in_memory": True},
    ),
    (
        "edgevec-f32-2t",
        "EdgeVec f32, 2-thread build",
        "edgevec",
        {"quantization": "none", "threads": 2},
    ),
]

RAM_NOTE = (
    "RAM = growth of the resident set (RSS) of a fresh process that loads the saved index and "
    "answers the query batches, i.e. what serving the index costs. Peers: the Python worker "
    "reads VmRSS from /proc/self/status after importing the library and loading the queries "
    "(baseline), resets the peak counter (`echo 5 > /proc/self/clear_refs`), loads the index "
    "and runs every search; *RAM MB* is VmRSS after the searches minus the baseline, "
    "*peak* is VmHWM minus the baseline. EdgeVec: `edgevec search` reads its own "
    "/proc/self/status right after the searches, index open and every answer held "
    "(`rss_bytes`, `peak_rss_bytes` in its JSON line); *RAM MB* is that VmRSS (the largest "
    "over the runs), *peak* its VmHWM (what `/usr/bin/time -v` calls maximum resident set "
    "size); "
    "both minus the same figures for `edgevec search` with the same queries over a "
    "1,000-vector index (the binary, the queries and the results). Index files read on demand "
    "through the page cache (the f32 rows of an EdgeVec u8 index) do not count as RSS."
)


# ---------------------------------------------------------------------------------------------
# files


def read_fvecs(path, rows=None):
    raw = np.fromfile(path, dtype="<i4")
    d = int(raw[0])
    rec = raw.reshape(-1, d + 1)
    if rows is not None:
        rec = rec[:rows]
    if not (rec[:, 0] == d).all():
        raise SystemExit(f"{path}: not an .fvecs file (row lengths differ)")
    return np.ascontiguousarray(rec[:, 1:]).view("<f4")


def read_ivecs(path):
    raw = np.fromfile(path, dtype="<i4")
    d = int(raw[0])
    rec = raw.reshape(-1, d + 1)
    if not (rec[:, 0] == d).all():
        raise SystemExit(f"{path}: not an .ivecs file (row lengths differ)")
    return np.ascontiguousarray(rec[:, 1:])


def write_fvecs(path, x):
    n, d = x.shape
    rec = np.empty((n, d + 1), "<f4")
    rec[:, 0] = np.array([d], "<i4").view("<f4")[0]
    rec[:, 1:] = x
    rec.tofile(path)


def exact_knn(base, queries, metric, k, chunk=100):
    """Exact top-k ids (float64 arithmetic), ties broken by the smaller id."""
    x = base.astype(np.float64)
    q = queries.astype(np.float64)
    if metric == "cosine":
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)
        q /= np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-30)
    sq = (x * x).sum(axis=1)
    out = np.empty((len(q), k), "<i4")
    for s in range(0, len(q), chunk):
        dots = q[s : s + chunk] @ x.T
        dist = -dots if metric == "cosine" else sq[None, :] - 2.0 * dots
        part = np.argpartition(dist, k, axis=1)[:, :k]
        pd = np.take_along_axis(dist, part, 1)
        order = np.lexsort((part, pd), axis=1)
        out[s : s + chunk] = np.take_along_axis(part, order, 1)
    return out


def recall_at_k(hits, truth, k=K):
    hits = np.asarray(hits)[:, :k]
    truth = np.asarray(truth)[:, :k]
    found = sum(len(np.intersect1d(h[h >= 0], t, assume_unique=False)) for h, t in zip(hits, truth))
    return found / (len(truth) * k)


# ---------------------------------------------------------------------------------------------
# memory


def proc_status(pid="self"):
    """VmRSS and VmHWM of a process in bytes ({} if it is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return out


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def run_sampled(cmd, env=None, interval=0.002):
    """Runs cmd, sampling /proc/PID/status; returns (stdout, peak RSS bytes, seconds). The peak
    is the last VmHWM read (VmHWM never decreases and starts afresh at exec). wait4's
    ru_maxrss is not used: after a (v)fork + exec it includes the RSS of the forking process,
    here this Python driver with its data sets. For builds; `edgevec search` reports its own
    memory (see `run`)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        peak = 0
        while True:
            pid, status = os.waitpid(p.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, proc_status(p.pid).get("VmHWM", 0))
            time.sleep(interval)
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if p.returncode != 0:
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{stderr}")
    return stdout, peak, wall


def run(cmd):
    """Runs cmd without watching it (nothing polls while it is timed); returns its stdout."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr}")
    return p.stdout


# ---------------------------------------------------------------------------------------------
# peers (each call runs in its own process)


def peer_build(args):
    x = read_fvecs(args.base)
    n, d = x.shape
    lib, metric, threads = args.lib, args.metric, args.threads
    if lib == "hnswlib":
        import hnswlib
    elif lib == "faiss":
        import faiss

        faiss.omp_set_num_threads(threads)
    else:
        from usearch.index import Index
    gc.collect()
    rss0 = proc_status()["VmRSS"]
    own = {}
    t0 = time.perf_counter()
    if lib == "hnswlib":
        index = hnswlib.Index(space="cosine" if metric == "cosine" else "l2", dim=d)
        index.init_index(max_elements=n, ef_construction=EF_CONSTRUCTION, M=M, random_seed=100)
        index.set_num_threads(threads)
        index.add_items(x, np.arange(n), num_threads=threads)
    elif lib == "faiss":
        if metric == "cosine":
            # Inner product over normalized rows (queries are normalized at search time).
            x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)
            index = faiss.IndexHNSWFlat(d, M, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexHNSWFlat(d, M, faiss.METRIC_L2)
        index.hnsw.efConstruction = EF_CONSTRUCTION
        index.add(x)
    else:
        index = Index(
            ndim=d,
            metric="cos" if metric == "cosine" else "l2sq",
            dtype="f32",  # usearch 2.x defaults to bf16 for cos
            connectivity=M,
            expansion_add=EF_CONSTRUCTION,
            expansion_search=64,
        )
        index.add(np.arange(n, dtype=np.uint64), x, threads=threads)
    build_seconds = time.perf_counter() - t0
    rss1 = proc_status()["VmRSS"]
    if lib == "hnswlib":
        index.save_index(args.index)
        own["index_file_size"] = int(index.index_file_size())
    elif lib == "faiss":
        faiss.write_index(index, args.index)
    else:
        index.save(args.index)
        own["memory_usage"] = int(index.memory_usage)
        own["serialized_length"] = int(index.serialized_length)
        own["hardware_acceleration"] = str(index.hardware_acceleration)
        own["dtype"] = str(index.dtype)
    print(
        json.dumps(
            {
                "build_seconds": build_seconds,
                "file_bytes": os.path.getsize(args.index),
                "build_rss_growth_bytes": rss1 - rss0,
                "own": own,
            }
        )
    )


def peer_search(args):
    lib, metric = args.lib, args.metric
    q = read_fvecs(args.queries)
    efs = [int(e) for e in args.efs.split(",")]
    if lib == "hnswlib":
        import hnswlib
    elif lib == "faiss":
        import faiss

        faiss.omp_set_num_threads(1)
    else:
        from usearch.index import Index
    gc.collect()
    base = proc_status()["VmRSS"]
    peak_reset = reset_peak()
    if lib == "hnswlib":
        index = hnswlib.Index(space="cosine" if metric == "cosine" else "l2", dim=q.shape[1])
        index.load_index(args.index)
        index.set_num_threads(1)

        def search(ef):
            index.set_ef(ef)
            labels, _ = index.knn_query(q, k=K, num_threads=1)
            return labels
    elif lib == "faiss":
        index = faiss.read_index(args.index)

        def search(ef):
            index.hnsw.efSearch = ef
            qq = q
            if metric == "cosine":
                qq = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-30)
            _, labels = index.search(qq, K)
            return labels
    else:
        index = Index.restore(args.index)

        def search(ef):
            index.expansion_search = ef
            m = index.search(q, K, threads=1)
            keys = m.keys.astype(np.int64)
            keys[np.arange(K)[None, :] >= m.counts[:, None]] = -1
            return keys

    after_load = proc_status()["VmRSS"]
    runs = []
    for ef in efs:
        best = math.inf
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            labels = search(ef)
            best = min(best, time.perf_counter() - t0)
        np.save(f"{args.hits}-ef{ef}.npy", np.asarray(labels, dtype=np.int64))
        runs.append({"ef": ef, "search_seconds": best, "qps": len(q) / best})
    st = proc_status()
    print(
        json.dumps(
            {
                "runs": runs,
                "rss_baseline_bytes": base,
                "ram_bytes": st["VmRSS"] - base,
                "ram_after_load_bytes": after_load - base,
                "peak_ram_bytes": (st["VmHWM"] - base) if peak_reset else None,
                "peak_reset": peak_reset,
            }
        )
    )


# ---------------------------------------------------------------------------------------------
# the driver


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def cpu_clock():
    """(CPU seconds every process on the machine has used since boot, CPU seconds this harness
    and its finished children have used). The difference of two readings' differences is the
    CPU time other processes took meanwhile: the measure of a shared machine (a load average
    counts the benchmark itself, and lags)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq ...
        machine = (v[0] + v[1] + v[2] + v[5] + v[6]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    t = os.times()
    return machine, t.user + t.system + t.children_user + t.children_system


def other_cpu(c0, c1):
    """CPU seconds used by other processes between two `cpu_clock` readings (None if unknown)."""
    if c0 is None or c1 is None:
        return None
    return max(0.0, (c1[0] - c0[0]) - (c1[1] - c0[1]))


def worker(argv):
    env = dict(os.environ, **ONE_THREAD_ENV)
    res = subprocess.run(
        [sys.executable, os.path.abspath(__file__), *argv],
        env=env,
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        raise SystemExit(f"worker failed: {' '.join(argv)}\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def prepare_data(name, directory, quick, work):
    """Base, query and truth files for one data set (subsets and exact truth in quick mode)."""
    spec = DATASETS[name]
    base_f, query_f, truth_f = (os.path.join(directory, f) for f in spec["files"])
    metric = spec["metric"]
    if quick and name == "glove":
        n = 20_000
        base = read_fvecs(base_f, rows=n)
        queries = read_fvecs(query_f)
        log(f"{name}: quick subset {n} x {base.shape[1]}, {len(queries)} queries; "
            "exact truth with numpy")
        truth = exact_knn(base, queries, metric, K)
        base_f = os.path.join(work, "base.fvecs")
        query_f = os.path.join(work, "query.fvecs")
        write_fvecs(base_f, base)
        write_fvecs(query_f, queries)
    else:
        base = read_fvecs(base_f)
        queries = read_fvecs(query_f)
        truth = read_ivecs(truth_f)
        if truth.shape[1] < K or len(truth) != len(queries):
            raise SystemExit(f"{truth_f}: {truth.shape} does not fit {len(queries)} queries, k={K}")
        truth = truth[:, :K]
        # The truth file must match this metric: recompute a few rows exactly.
        check = min(20, len(queries))
        mine = exact_knn(base, queries[:check], metric, K)
        agree = recall_at_k(mine, truth[:check])
        log(f"{name}: ground truth check on {check} queries ({metric}): {agree:.4f}")
        if agree < 0.99:
            raise SystemExit(f"{truth_f} does not look like exact {metric} top-{K} ({agree:.3f})")
    tiny_f = os.path.join(work, "tiny.fvecs")
    write_fvecs(tiny_f, base[:1000])
    return {
        "metric": metric,
        "base": base_f,
        "queries": query_f,
        "truth": truth,
        "n": int(base.shape[0]),
        "dim": int(base.shape[1]),
        "nq": int(queries.shape[0]),
        "tiny": tiny_f,
        "source": spec["source"],
    }


def edgevec_baseline(cli, data, work, efs):
    """Peak and steady RSS of `edgevec search` over a 1,000-vector index (same queries)."""
    index = os.path.join(work, "tiny.evec")
    run([cli, "build", "--input", data["tiny"], "--output", index,
         "--metric", data["metric"], "--threads", "1"])
    out = run(
        [cli, "search", "--index", index, "--queries", data["queries"], "--k", str(K),
         "--ef", str(max(efs)), "--threads", "1",
         "--output", os.path.join(work, "tiny-hits.ivecs")]
    )
    remove_index(index)
    line = json.loads(out.strip().splitlines()[-1])
    return {"peak": line["peak_rss_bytes"], "steady": line["rss_bytes"]}


def remove_index(path):
    for suffix in ("", ".wal", ".lock"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass


def run_edgevec(cli, data, opts, work, efs, repeats, baseline):
    rim = opts.get("rows_in_memory", False)
    index = os.path.join(
        work, f"edgevec-{opts['quantization']}-{opts['threads']}t{'-rim' if rim else ''}.evec"
    )
    la = loadavg()
    out, build_peak, build_wall = run_sampled(
        [cli, "build", "--input", data["base"], "--output", index, "--metric", data["metric"],
         "--m", str(M), "--ef-construction", str(EF_CONSTRUCTION),
         "--threads", str(opts["threads"]), "--quantization", opts["quantization"]]
    )
    built = json.loads(out.strip().splitlines()[-1])
    res = {
        "build_seconds": built["build_seconds"],
        "file_bytes": built["file_bytes"],
        "build_process_peak_rss_bytes": build_peak,
        "build_command_seconds": build_wall,
        "loadavg_at_build": la,
        "runs": [],
    }
    peaks, steadies = [], []
    for ef in efs:
        best = None
        for _ in range(repeats):
            hits_f = os.path.join(work, f"hits-ef{ef}.ivecs")
            out = run(
                [cli, "search", "--index", index, "--queries", data["queries"], "--k", str(K),
                 "--ef", str(ef), "--threads", "1", "--output", hits_f]
                + (["--rows-in-memory"] if rim else [])
            )
            line = json.loads(out.strip().splitlines()[-1])
            assert line["queries"] == data["nq"] and line["k"] == K and line["ef"] == ef
            # The CLI's own figures, taken after its searches with the index open (sampling
            # from outside caught the process exiting as often as searching).
            peaks.append(line["peak_rss_bytes"])
            steadies.append(line["rss_bytes"])
            if best is None or line["search_seconds"] < best["search_seconds"]:
                best = line
                hits = read_ivecs(hits_f)
        res["runs"].append(
            {
                "ef": ef,
                "search_seconds": best["search_seconds"],
                "qps": best["qps"],
                "recall": recall_at_k(hits, data["truth"]),
                # Quantized indexes: the rescoring factor the search used (the index's own).
                "oversample": best["oversample"],
            }
        )
    res["ram_bytes"] = max(steadies) - baseline["steady"]
    res["peak_ram_bytes"] = max(peaks) - baseline["peak"]
    remove_index(index)
    return res


def run_peer(lib, data, work, efs, repeats):
    index = os.path.join(work, f"{lib}.index")
    la = loadavg()
    built = worker(["peer-build", "--lib", lib, "--metric", data["metric"], "--base",
                    data["base"], "--index", index, "--threads", "1"])
    searched = worker(["peer-search", "--lib", lib, "--metric", data["metric"], "--queries",
                       data["queries"], "--index", index, "--efs", ",".join(map(str, efs)),
                       "--repeats", str(repeats), "--hits", os.path.join(work, f"{lib}-hits")])
    for run in searched["runs"]:
        hits = np.load(os.path.join(work, f"{lib}-hits-ef{run['ef']}.npy"))
        run["recall"] = recall_at_k(hits, data["truth"])
    os.remove(index)
    return {
        "build_seconds": built["build_seconds"],
        "file_bytes": built["file_bytes"],
        "build_rss_growth_bytes": built["build_rss_growth_bytes"],
        "own_size_api": built["own"],
        "loadavg_at_build": la,
        "runs": searched["runs"],
        "ram_bytes": searched["ram_bytes"],
        "ram_after_load_bytes": searched["ram_after_load_bytes"],
        "peak_ram_bytes": searched["peak_ram_bytes"],
    }


def qps_at(runs, target=TARGET_RECALL):
    """QPS at recall = target, interpolated linearly in recall and log(QPS) between the two
    ef values around it. Returns (qps, kind): kind is "interp", "lower-bound" (even the
    smallest ef is above target: QPS there is a lower bound) or None (target never reached)."""
    pts = sorted(((r["ef"], r["recall"], r["qps"]) for r in runs))
    if not pts:
        return None, None
    if pts[0][1] >= target:
        return pts[0][2], "lower-bound"
    for (_, r0, q0), (_, r1, q1) in zip(pts, pts[1:]):
        if r0 < target <= r1:
            f = (target - r0) / (r1 - r0)
            return math.exp(math.log(q0) + f * (math.log(q1) - math.log(q0))), "interp"
    # Recall need not rise monotonically with ef; use any later crossing.
    return None, None


def fmt_int(x):
    return f"{x:,.0f}"


def mb(x):
    return "n/a" if x is None else f"{x / 1e6:.1f}"


def ratio_text(a, ak, b, bk):
    """a / b with the bound a lower-bound QPS implies."""
    if a is None or b is None:
        return "n/a"
    r = a / b
    if ak == "lower-bound" and bk != "lower-bound":
        return f"≥ {r:.2f}x"
    if bk == "lower-bound" and ak != "lower-bound":
        return f"≤ {r:.2f}x"
    if ak == "lower-bound":
        return f"~{r:.2f}x (both bounds)"
    return f"{r:.2f}x"


def dataset_markdown(name, d, efs):
    lines = []
    info = d["data"]
    lines.append(f"### {name}: {info['n']:,} x {info['dim']}, {info['metric']}, "
                 f"{info['nq']:,} queries\n")
    lines.append(f"Data: {info['source']}.\n")
    head = "| library / config | build s | disk MB | RAM MB | peak RAM MB |"
    sep = "|---|---:|---:|---:|---:|"
    for ef in efs:
        head += f" ef={ef} recall@10 / QPS |"
        sep += "---:|"
    lines += [head, sep]
    for key, label, _, _ in CONFIGS:
        r = d["results"].get(key)
        if r is None:
            continue
        row = (f"| {label} | {r['build_seconds']:.1f} | {mb(r['file_bytes'])} | "
               f"{mb(r['ram_bytes'])} | {mb(r['peak_ram_bytes'])} |")
        for run in sorted(r["runs"], key=lambda x: x["ef"]):
            row += f" {run['recall']:.4f} / {fmt_int(run['qps'])} |"
        lines.append(row)
    lines.append("")
    notes = []
    if "edgevec-u8" in d["results"]:
        # k × the oversample the searches reported (u8's default), rounded up.
        over = d["results"]["edgevec-u8"]["runs"][0].get("oversample", 2)
        wanted = math.ceil(K * over - 1e-9)
        low = [ef for ef in efs if ef <= wanted]
        same = (f"; its {' and '.join(f'ef = {e}' for e in low)} points are therefore the same "
                "search (the CLI still reports the ef it was given)") if len(low) > 1 else ""
        notes.append(
            f"EdgeVec u8 walks its graph with a beam of max(ef, ⌈k × oversample⌉) = max(ef, "
            f"{wanted}) (u8's default oversample is {over:g}; `rescored` in "
            f"crates/edgevec/src/lib.rs) "
            f"and rescores those {wanted} candidates with exact distances, reading each f32 row "
            f"from the index file on demand{same}."
        )
    if "edgevec-u8-rim" in d["results"]:
        notes.append(
            "*Rows in RAM*: the same u8 index searched with `edgevec search --rows-in-memory` "
            "(`Index::load_rows`): the f32 rows are read into memory after opening (not timed), "
            "so rescoring reads memory instead of the file; the same answers, for 4 · d more "
            "bytes of RAM per vector."
        )
    shares = [
        f"{label} {r['other_cpu_seconds']:.1f} s in {r['wall_seconds']:.0f} s"
        for key, label, _, _ in CONFIGS
        if (r := d["results"].get(key)) and r.get("other_cpu_seconds") is not None
    ]
    if shares:
        notes.append("CPU time taken by other processes on the machine while each configuration "
                     "was built and searched (from /proc/stat, minus the harness's own; near 0 "
                     "on an idle machine): " + "; ".join(shares) + ".")
    for note in notes:
        lines += [note, ""]
    h = d["results"].get("hnswlib")
    lines.append(f"QPS at recall@10 = {TARGET_RECALL}, interpolated (linear in recall, "
                 "log-linear in QPS, between the two ef values around it), and ratios to "
                 "hnswlib (build: hnswlib's build time / this build time, i.e. build "
                 "throughput; RAM and disk: this / hnswlib):\n")
    lines.append("| library / config | QPS @ 0.95 | QPS vs hnswlib | build throughput vs "
                 "hnswlib | RAM vs hnswlib | disk vs hnswlib |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    hq, hk = qps_at(h["runs"]) if h else (None, None)
    for key, label, _, _ in CONFIGS:
        r = d["results"].get(key)
        if r is None:
            continue
        q, kind = qps_at(r["runs"])
        qt = "not reached" if q is None else (("≥ " if kind == "lower-bound" else "") + fmt_int(q))
        if h:
            qr = ratio_text(q, kind, hq, hk)
            br = f"{h['build_seconds'] / r['build_seconds']:.2f}x"
            rr = (f"{r['ram_bytes'] / h['ram_bytes']:.2f}x"
                  if r["ram_bytes"] and h["ram_bytes"] else "n/a")
            dr = f"{r['file_bytes'] / h['file_bytes']:.2f}x"
        else:
            qr = br = rr = dr = "n/a"
        lines.append(f"| {label} | {qt} | {qr} | {br} | {rr} | {dr} |")
        r["qps_at_target"] = {"qps": q, "kind": kind}
    lines.append("")
    # A lower bound says little when a configuration's smallest ef already overshoots the
    # target: compare it with hnswlib at the recall it does reach there.
    for key, label, _, _ in CONFIGS:
        r = d["results"].get(key)
        if not h or r is None or key == "hnswlib" or r["qps_at_target"]["kind"] != "lower-bound":
            continue
        first = min(r["runs"], key=lambda x: x["ef"])
        hq_r, hk_r = qps_at(h["runs"], target=first["recall"])
        if hq_r is None or hk_r != "interp":
            continue
        lines.append(f"{label} reaches recall@10 {first['recall']:.4f} already at its smallest "
                     f"ef ({first['ef']}), with {fmt_int(first['qps'])} QPS; hnswlib, "
                     f"interpolated to the same recall, {fmt_int(hq_r)} QPS: "
                     f"{first['qps'] / hq_r:.2f}x at equal recall.\n")
    return lines


def plot(name, d, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    styles = {"peer": "--", "edgevec": "-"}
    for key, label, kind, _ in CONFIGS:
        r = d["results"].get(key)
        if r is None:
            continue
        runs = sorted(r["runs"], key=lambda x: x["ef"])
        ax.plot([x["recall"] for x in runs], [x["qps"] for x in runs], styles[kind],
                marker="o", label=label)
    ax.axvline(TARGET_RECALL, color="grey", lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries per second (1 thread, log scale)")
    info = d["data"]
    ax.set_title(f"{name}: {info['n']:,} x {info['dim']}, {info['metric']}; "
                 f"k=10, M=16, ef_construction=200")
    ax.grid(True, which="both", lw=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def machine():
    cpu = "unknown"
    flags = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and cpu == "unknown":
                    cpu = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "simd": " ".join(f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl") if f in flags),
        "ram_bytes": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def versions():
    import faiss
    import hnswlib  # noqa: F401
    import usearch
    from importlib.metadata import version

    return {
        "hnswlib": version("hnswlib"),
        "faiss-cpu": faiss.__version__,
        "usearch": usearch.__version__,
        "numpy": np.__version__,
    }


def git_rev(root):
    try:
        rev = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return rev + (" (with uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def drive(args):
    t_start, clock_start = time.time(), cpu_clock()
    efs = EFS_QUICK if args.quick else EFS_FULL
    repeats = args.repeats or (1 if args.quick else 3)
    os.makedirs(args.out, exist_ok=True)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": args.command,
        "quick": args.quick,
        "machine": machine(),
        "versions": versions(),
        "edgevec_commit": git_rev(root),
        "protocol": {
            "k": K, "m": M, "ef_construction": EF_CONSTRUCTION, "efs": efs,
            "build_threads": 1, "search_threads": 1, "repeats": repeats,
            "target_recall": TARGET_RECALL,
        },
        "loadavg_start": loadavg(),
        "datasets": {},
    }
    only = set(args.only.split(",")) if args.only else None
    for spec in args.dataset:
        name, directory = spec.split("=", 1)
        work = os.path.join(args.work, name + ("-quick" if args.quick else ""))
        os.makedirs(work, exist_ok=True)
        data = prepare_data(name, directory, args.quick, work)
        log(f"{name}: {data['n']} x {data['dim']}, {data['metric']}, {data['nq']} queries")
        baseline = edgevec_baseline(args.edgevec, data, work, efs)
        results = {}
        for key, label, kind, opts in CONFIGS:
            if only and key not in only:
                continue
            log(f"{name}: {label}: build + search (load average {loadavg():.1f})")
            t0, c0 = time.time(), cpu_clock()
            if kind == "peer":
                r = run_peer(key, data, work, efs, repeats)
            else:
                r = run_edgevec(args.edgevec, data, opts, work, efs, repeats, baseline)
            r["wall_seconds"] = time.time() - t0
            r["other_cpu_seconds"] = other_cpu(c0, cpu_clock())
            results[key] = r
            log(f"{name}: {label}: build {r['build_seconds']:.1f} s, RAM {mb(r['ram_bytes'])} MB, "
                + ", ".join(f"ef {x['ef']}: {x['recall']:.4f} @ {x['qps']:.0f} qps"
                            for x in r["runs"]))
        report["datasets"][name] = {
            "data": {k: v for k, v in data.items() if k != "truth"},
            "edgevec_baseline_rss_bytes": baseline,
            "results": results,
        }
    report["loadavg_end"] = loadavg()
    report["harness_seconds"] = time.time() - t_start
    report["other_cpu_seconds"] = other_cpu(clock_start, cpu_clock())
    if args.started:
        report["total_seconds"] = time.time() - args.started
    write_report(report, args.out, efs)


def shared_note(report):
    """How much other processes used the machine during the run, and a warning when it was
    enough to distort timings (over 10% of one core on average)."""
    other, wall = report.get("other_cpu_seconds"), report.get("harness_seconds")
    if other is None or not wall:
        return (f"Load average (1 min) {report['loadavg_start']:.1f} at the start, "
                f"{report['loadavg_end']:.1f} at the end.")
    text = (f"Other processes used {other:.0f} CPU seconds during the {wall / 60:.0f}-minute "
            f"run ({other / wall:.0%} of one core; /proc/stat minus the harness's own CPU time).")
    if other / wall > 0.10:
        text += (" **The machine was shared with other jobs during this run: timings are noisy, "
                 "so treat the ratios as indicative and rerun on an idle machine before quoting "
                 "them.**")
    return text


def write_report(report, out, efs):
    m = report["machine"]
    p = report["protocol"]
    v = report["versions"]
    lines = [
        "# Side-by-side ANN benchmark: EdgeVec vs hnswlib, faiss, usearch",
        "",
        "Generated by `benches/ann/run.sh` (harness: `benches/ann/bench.py`); do not edit by hand."
        + (" **Quick smoke run: subsets, not the real figures.**" if report["quick"] else ""),
        "",
        "```sh",
        report["command"],
        "```",
        "",
        f"- Date: {report['date']}; EdgeVec {report['edgevec_commit']}.",
        f"- Machine: {m['cpu']}, {m['logical_cores']} logical cores ({m['simd']}), "
        f"{(m['ram_bytes'] or 0) / 2**30:.1f} GiB RAM, Linux {m['kernel']}, Python {m['python']}. "
        + shared_note(report),
        f"- Peers (PyPI, `benches/ann/requirements.txt`): hnswlib {v['hnswlib']}, faiss-cpu "
        f"{v['faiss-cpu']}, usearch {v['usearch']}, numpy {v['numpy']}.",
        "",
        "## Protocol",
        "",
        f"- Same machine, same data, same parameters: k = {p['k']}, M = {p['m']} (2·M links on "
        f"layer 0 in every library), ef_construction = {p['ef_construction']}, "
        f"ef ∈ {{{', '.join(map(str, p['efs']))}}}.",
        "- One thread for building and for searching, in every library (hnswlib "
        "`set_num_threads(1)` / `num_threads=1`; faiss `omp_set_num_threads(1)`; usearch "
        "`threads=1`; EdgeVec `--threads 1`; OMP/BLAS/Rayon thread variables set to 1). One "
        "extra row: EdgeVec built with `--threads 2` (searched with 1).",
        "- Build time: the insertion call only (EdgeVec: `build_seconds` printed by "
        "`edgevec build`, which times `insert_batch`; peers: index construction + add, timed in "
        "Python; faiss's cosine normalization of the rows is inside its timing).",
        "- Search: every index is saved, then loaded by a fresh process; all queries go in one "
        "batch call and only that call is timed (EdgeVec: `search_seconds` of `edgevec search "
        "--threads 1`; hnswlib `knn_query`; faiss `search`; usearch `search`). Each ef is run "
        f"{p['repeats']} time(s); the fastest counts. Recall@10 is computed from the returned "
        "ids against exact ground truth.",
        "- Metrics: GloVe is cosine (hnswlib `space='cosine'`; faiss `IndexHNSWFlat` with inner "
        "product over normalized rows and queries; usearch `metric='cos'`; EdgeVec `--metric "
        "cosine`); synthetic is squared L2 (`'l2'`, `METRIC_L2`, `'l2sq'`, `--metric l2`). "
        "usearch is given `dtype='f32'` (its default for cos is bf16).",
        "- EdgeVec rows: f32 (`--quantization none`) and u8 codes with exact rescoring "
        "(`--quantization u8`), its f32 rows read from the file on demand or (*rows in RAM*, "
        "`edgevec search --rows-in-memory`) held in memory.",
        "- Disk: size of the saved index file (EdgeVec: the `.evec` snapshot, which for u8 "
        "holds the f32 rows too; hnswlib `save_index`; faiss `write_index`; usearch `save`).",
        f"- {RAM_NOTE}",
        "",
        "## Results",
        "",
    ]
    for name, d in report["datasets"].items():
        lines += dataset_markdown(name, d, efs)
        png = f"ann-{name}{'-quick' if report['quick'] else ''}.png"
        plot(name, d, os.path.join(out, png))
        lines += [f"![{name}: recall@10 vs QPS]({png})", ""]
    took = report.get("total_seconds", report["harness_seconds"])
    lines.append(f"The whole run took {took / 60:.1f} min "
                 f"(harness {report['harness_seconds'] / 60:.1f} min; the rest is setup, "
                 "builds of the CLI and data preparation).")
    suffix = "-quick" if report["quick"] else ""
    with open(os.path.join(out, f"ann{suffix}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out, f"ann{suffix}.json"), "w") as f:
        json.dump(report, f, indent=1)
    print("\n".join(lines))
    log(f"wrote {out}/ann{suffix}.md, ann{suffix}.json and the plots")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd")
    b = sub.add_parser("peer-build")
    s = sub.add_parser("peer-search")
    for x in (b, s):
        x.add_argument("--lib", choices=["hnswlib", "faiss", "usearch"], required=True)
        x.add_argument("--metric", choices=["cosine", "l2"], required=True)
        x.add_argument("--index", required=True)
    b.add_argument("--base", required=True)
    b.add_argument("--threads", type=int, default=1)
    s.add_argument("--queries", required=True)
    s.add_argument("--efs", required=True)
    s.add_argument("--repeats", type=int, default=1)
    s.add_argument("--hits", required=True)
    ap.add_argument("--edgevec", help="the release `edgevec` binary")
    ap.add_argument("--dataset", action="append", default=[], help="NAME=DIR (glove, synthetic)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default="docs/bench")
    ap.add_argument("--work", default="target/ann-work")
    ap.add_argument("--repeats", type=int, default=0, help="runs per ef (default 3; quick 1)")
    ap.add_argument("--only", help="comma-separated config keys (debugging)")
    ap.add_argument("--command", default=" ".join(sys.argv))
    ap.add_argument("--started", type=float, help="epoch seconds when run.sh started")
    ap.add_argument("--from-json", metavar="ANN.JSON",
                    help="only rewrite the markdown and plots (into --out) from a saved ann.json")
    args = ap.parse_args()
    if args.from_json:
        with open(args.from_json) as f:
            report = json.load(f)
        write_report(report, args.out, report["protocol"]["efs"])
        return
    if args.cmd == "peer-build":
        peer_build(args)
    elif args.cmd == "peer-search":
        peer_search(args)
    else:
        if not args.edgevec or not args.dataset:
            ap.error("--edgevec and at least one --dataset are required")
        drive(args)


if __name__ == "__main__":
    main()
