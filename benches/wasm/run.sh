#!/usr/bin/env bash
# Builds the edgevec-wasm package (cargo xtask wasm), installs the npm packages it is compared
# with (edgevec, hnswlib-wasm, voy-search; pinned) into target/wasm-bench -- a scratch folder,
# never committed -- and runs benches/wasm/bench.mjs. Arguments go to bench.mjs, e.g.
#   bash benches/wasm/run.sh --n 10000 --dim 384 --queries 200
# The table is printed and written to target/wasm-bench/results.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo xtask wasm
scratch=target/wasm-bench
mkdir -p "$scratch"
(
  cd "$scratch"
  [ -f package.json ] || npm init -y >/dev/null
  npm install --no-audit --no-fund --silent edgevec@0.9.0 hnswlib-wasm@0.8.2 voy-search@0.6.3
)
BENCH_PEERS="$PWD/$scratch/node_modules" EDGEVEC_PKG="$PWD/crates/edgevec-wasm/pkg" \
  node benches/wasm/bench.mjs "$@" | tee "$scratch/results.md"
