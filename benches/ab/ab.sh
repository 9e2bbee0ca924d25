#!/usr/bin/env bash
# A/B of two (or more) `edgevec` binaries searching the same index, or of one binary searching
# two (or more) index files, runs alternating so that all see the same machine: the way every
# search optimization in the commit log was measured.
#
#   bash benches/ab/ab.sh --index IDX.evec [--index IDX2.evec ...] --queries Q.fvecs [--ef 16,64] [--rounds 8] BIN_A [BIN_B ...]
#
# Each round runs every binary on every index once per ef (`edgevec search --k 10 --threads 1`,
# which times only the search); the table gives the best and the median QPS over the rounds.
# Build the binaries from two commits (e.g. `git worktree add`, `cargo build --release -p
# edgevec-cli`, copy target/release/edgevec away), and make the index with either (`edgevec
# build`). Several indexes compare files: the same index written two ways, say.
set -euo pipefail
indexes=() queries="" efs="16,64" rounds=8
bins=()
while [ $# -gt 0 ]; do
  case "$1" in
    --index) indexes+=("$2"); shift 2 ;;
    --queries) queries=$2; shift 2 ;;
    --ef) efs=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    -h|--help) sed -n 2,12p "$0"; exit 0 ;;
    *) bins+=("$1"); shift ;;
  esac
done
if [ ${#indexes[@]} -lt 1 ] || [ -z "$queries" ] || [ ${#bins[@]} -lt 1 ]; then
  echo "usage: ab.sh --index IDX [--index IDX2 ...] --queries Q [--ef 16,64] [--rounds N] BIN..." >&2
  exit 2
fi
for ef in ${efs//,/ }; do
  for _ in $(seq "$rounds"); do
    for index in "${indexes[@]}"; do
      for b in "${bins[@]}"; do
        printf '%s\t%s\t%s\t%s\n' "$ef" "$b" "$index" \
          "$("$b" search --index "$index" --queries "$queries" --k 10 --ef "$ef")"
      done
    done
  done
done | python3 -c '
import json, statistics, sys
runs = {}
for line in sys.stdin:
    ef, binary, index, out = line.rstrip("\n").split("\t", 3)
    runs.setdefault((int(ef), binary, index), []).append(json.loads(out)["qps"])
several = len({i for _, _, i in runs}) > 1
print("| ef | binary |" + (" index |" if several else "") + " best QPS | median QPS | runs |")
print("|---:|---|" + ("---|" if several else "") + "---:|---:|---:|")
for (ef, binary, index), q in runs.items():
    cell = f" {index} |" if several else ""
    print(f"| {ef} | {binary} |{cell} {max(q):,.0f} | {statistics.median(q):,.0f} | {len(q)} |")
'
