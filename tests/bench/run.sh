#!/usr/bin/env bash
# Boot-time and memory-overhead benchmark (tests/bench/boot_bench.py): minivmm against QEMU with
# KVM, alternating, in one run; in the KVM sandbox where /dev/kvm is missing. Prints a table.
#
#   tests/bench/run.sh [BUILD_DIR] [--rounds N]
# Build first with: cmake -S . -B build -G Ninja && cmake --build build
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$repo/build}
[[ $# -gt 0 ]] && shift
work=$repo/var/bench
mkdir -p "$work"
exec "$repo/scripts/kvm-sandbox" --timeout 1800 --rw "$work" -- \
  python3 "$repo/tests/bench/boot_bench.py" --minivmm "$build/minivmm" \
  --kernel "$repo/var/guest/vmlinuz" --vmlinux "$repo/var/guest/vmlinux" --initrd "$repo/var/guest/test-guest.cpio.gz" \
  --workdir "$work" "$@"
