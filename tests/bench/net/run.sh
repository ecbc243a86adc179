#!/usr/bin/env bash
# Network benchmark (tests/bench/net/net_bench.py): TCP through a user-mode network's forwarded
# ports, minivmm's e1000 against QEMU's (-enable-kvm, -netdev user, -device e1000), one guest at
# a time, taking turns round by round, in one run; in the KVM sandbox where /dev/kvm is missing.
# Prints a table of medians; never pass/fail.
#
#   tests/bench/net/run.sh [BUILD_DIR] [--rounds N] [--mib N] [--also OTHER_MINIVMM]...
# Build first with: cmake -S . -B build -G Ninja && cmake --build build; needs scripts/setup.sh.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=${1:-$repo/build}
[[ $# -gt 0 ]] && shift
work=$repo/var/bench-net
mkdir -p "$work"
exec "$repo/scripts/kvm-sandbox" --timeout 3000 --rw "$work" -- \
  python3 "$repo/tests/bench/net/net_bench.py" --minivmm "$build/minivmm" \
  --kernel "$repo/var/guest/vmlinuz" --initrd "$repo/var/guest/test-guest.cpio.gz" \
  --workdir "$work" "$@"
