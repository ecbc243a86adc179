#!/bin/bash
# BlockDevice's worker pool against an io_uring engine on a 1 GiB raw file: 4 KiB random reads,
# 64 KiB sequential reads and 4 KiB random writes at queue depths 1, 4 and 32, cache=writeback and
# cache=none, engines alternating round by round. Prints medians and io_uring/worker ratios; a
# comparison, never pass/fail.
#
#   tests/bench/block-engine/run.sh [BUILD_DIR] [-- BENCH_OPTIONS...]   (e.g. -- --rounds 9)
# Build first: cmake --build build --target block_engine_bench. The file lives in var/bench/ (on
# the repository's disk: /tmp may be a tmpfs, which refuses O_DIRECT); it needs 1 GiB free.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=${1:-$repo/build}
[[ $# -gt 0 ]] && shift
[[ ${1:-} == -- ]] && shift
bench=$build/tests/bench/block-engine/block_engine_bench
[[ -x $bench ]] || {
  echo "no $bench: build the block_engine_bench target first" >&2
  exit 1
}
work=$repo/var/bench/block-engine
mkdir -p "$work"
disk=$work/disk.raw
trap 'rm -f "$disk"' EXIT
# Written, not sparse: reads of holes and first writes into them would measure the file system.
dd if=/dev/zero of="$disk" bs=1M count=1024 conv=fsync status=none
echo "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r), file system" \
  "$(stat -f -c %T "$work") on $(df --output=source "$work" | tail -1)"
"$bench" "$disk" "$@"
