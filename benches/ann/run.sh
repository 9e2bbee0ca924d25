#!/usr/bin/env bash
# Side-by-side ANN benchmark: EdgeVec (the `edgevec` CLI) vs hnswlib, faiss and usearch.
#
#   bash benches/ann/run.sh [--quick] [--data glove|synthetic|all] [--data-dir DIR]
#                           [--glove-dir DIR] [--out DIR] [--repeats N]
#
# One command does everything: a venv in target/ann-venv with the pinned peers
# (benches/ann/requirements.txt, from PyPI), the release CLI (cargo build --release -p
# edgevec-cli), the data, every build and search, and the results:
#   docs/bench/ann.md, docs/bench/ann.json, docs/bench/ann-glove.png, docs/bench/ann-synthetic.png
#
# Data (reused when the files exist):
#   glove      GloVe-50, 399,000 x 50, cosine, 1,000 queries: benches/data/make_glove.sh into
#              --glove-dir (default DATA_DIR/glove; downloads ~70 MB, computes exact truth)
#   synthetic  100,000 x 384 clustered, L2, 1,000 queries: the edgevec-graph `ann` example's
#              generator with exact brute-force truth, dumped into DATA_DIR/synthetic-100000x384
# DATA_DIR defaults to target/ann-data.
#
# --quick is a smoke test of a few minutes: the first 20,000 GloVe vectors (exact truth
# recomputed) and a 20,000 x 384 synthetic set, 1,000 queries each, ef in {16, 64}, one run
# per ef; it writes to target/ann-quick (never over docs/bench). Not for CI: it needs the
# network and minutes of CPU. The full run takes 15 to 30 minutes (30 on a busy 2-core
# machine); run it on an otherwise idle machine for figures worth quoting. To redo only the
# markdown and plots from a saved run: target/ann-venv/bin/python benches/ann/bench.py
# --from-json docs/bench/ann.json --out docs/bench
set -euo pipefail
started=$(date +%s.%N)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
cmdline="bash benches/ann/run.sh${*:+ $*}"

quick=0; data=all; data_dir=target/ann-data; glove_dir=; out=; repeats=()
usage() { sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --data) data=${2:?--data needs a value}; shift ;;
    --data-dir) data_dir=${2:?--data-dir needs a value}; shift ;;
    --glove-dir) glove_dir=${2:?--glove-dir needs a value}; shift ;;
    --out) out=${2:?--out needs a value}; shift ;;
    --repeats) repeats=(--repeats "${2:?--repeats needs a value}"); shift ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage ;;
  esac
  shift
done
case "$data" in glove|synthetic|all) ;; *) echo "run.sh: --data glove|synthetic|all" >&2; exit 2 ;; esac
glove_dir=${glove_dir:-$data_dir/glove}
if [ "$quick" = 1 ]; then out=${out:-target/ann-quick}; syn_n=20000; syn_q=1000
else out=${out:-docs/bench}; syn_n=100000; syn_q=1000; fi
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# 1. Peers, pinned, in a local venv.
venv=target/ann-venv
if [ ! -x "$venv/bin/python" ]; then
  py=$(command -v python3.11 || command -v python3)
  say "creating $venv with $py"
  "$py" -m venv "$venv"
fi
say "installing the pinned peers into $venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r benches/ann/requirements.txt

# 2. The release CLI (the workspace's default target directory).
say "building the release edgevec CLI"
cargo build --release -q -p edgevec-cli
cli=$(cargo metadata --format-version 1 --no-deps \
  | "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/edgevec

# 3. Data.
datasets=()
if [ "$data" = glove ] || [ "$data" = all ]; then
  if [ -s "$glove_dir/glove50_base.fvecs" ] && [ -s "$glove_dir/glove50_query.fvecs" ] \
     && [ -s "$glove_dir/glove50_gt100.ivecs" ]; then
    say "GloVe-50: reusing $glove_dir"
  else
    say "GloVe-50: benches/data/make_glove.sh $glove_dir"
    bash benches/data/make_glove.sh "$glove_dir"
  fi
  datasets+=(--dataset "glove=$glove_dir")
fi
if [ "$data" = synthetic ] || [ "$data" = all ]; then
  syn_dir=$data_dir/synthetic-${syn_n}x384
  if [ -s "$syn_dir/base.fvecs" ] && [ -s "$syn_dir/query.fvecs" ] && [ -s "$syn_dir/truth.ivecs" ]; then
    say "synthetic: reusing $syn_dir"
  else
    # The generator's own graph run is made cheap (m 4, ef_construction 8): only the dumped
    # data and its exact truth (written before that build) are used.
    say "synthetic: generating ${syn_n} x 384 (+ $syn_q queries, exact L2 truth) into $syn_dir"
    cargo run --release -q -p edgevec-graph --example ann -- --synthetic "${syn_n}x384" \
      --n-queries "$syn_q" --metric l2 --k 10 --dump "$syn_dir" \
      --m 4 --ef-construction 8 --ef 8 --threads 2 >/dev/null
  fi
  datasets+=(--dataset "synthetic=$syn_dir")
fi

# 4. Everything else.
quick_flag=(); [ "$quick" = 1 ] && quick_flag=(--quick)
exec "$venv/bin/python" benches/ann/bench.py --edgevec "$cli" "${datasets[@]}" "${quick_flag[@]}" \
  "${repeats[@]}" --out "$out" --work target/ann-work --command "$cmdline" --started "$started"
