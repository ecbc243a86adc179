#!/usr/bin/env bash
# Network benchmark (tests/bench/net/net_bench.py): TCP through a user-mode network's forwarded
# ports, minivmm's e1000 against QEMU's (-enable-kvm, -netdev user, -device e1000), one guest at
# a time, taking turns round by round; in the KVM sandbox where /dev/kvm is missing.
# Prints a table of medians; never pass/fail.
#
#   tests/bench/net/run.sh [BUILD_DIR] [--rounds N] [--mib N] [--also OTHER_MINIVMM]...
# Build first with: cmake -S . -B build -G Ninja && cmake --build build; needs scripts/setup.sh.
#
# All rounds run in one sandbox unless its kernel dies (the nested KVM of the sandbox panics now
# and then under this load): then a new sandbox runs the rounds still missing, up to
# SANDBOX_RUNS times in all. Every round compares the VMMs within one sandbox run, and the table
# says how many rounds each run gave.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=${1:-$repo/build}
[[ $# -gt 0 ]] && shift
work=$repo/var/bench-net
mkdir -p "$work"
state=$work/rounds.json
rm -f "$state"
SANDBOX_RUNS=4
for ((run = 1; ; run++)); do
  status=0
  # A sandbox whose kernel stops scheduling (seen: every CPU idle, the VMM's threads runnable)
  # never ends on its own, but kvm-sandbox stops it once its heartbeat ends; a run of three
  # rounds takes about 20 minutes, of five about 35.
  "$repo/scripts/kvm-sandbox" --timeout 3600 --rw "$work" -- \
    python3 "$repo/tests/bench/net/net_bench.py" --minivmm "$build/minivmm" \
    --kernel "$repo/var/guest/vmlinuz" --initrd "$repo/var/guest/test-guest.cpio.gz" \
    --workdir "$work" --state "$state" --sandbox-run "$run" "$@" || status=$?
  # 124 and 125: the sandbox hung or died without the bench's own exit status.
  if ((status != 124 && status != 125)) || ((run == SANDBOX_RUNS)); then
    exit "$status"
  fi
  echo "net bench: sandbox run $run died; the rounds still missing run in a new one" >&2
done
