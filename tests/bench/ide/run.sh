#!/usr/bin/env bash
# IDE disk benchmark (tests/bench/ide/ide_bench.py): guest-side direct I/O on /dev/sda (a qcow2
# image) under minivmm and under QEMU's IDE with KVM, alternating, in one run; in the KVM sandbox
# where /dev/kvm is missing. Prints a table; never pass/fail.
#
#   tests/bench/ide/run.sh [BUILD_DIR] [--rounds N] [--mib N] [--reads N]
# Build first with: cmake -S . -B build -G Ninja && cmake --build build
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=${1:-$repo/build}
[[ $# -gt 0 ]] && shift
work=$repo/var/bench/ide
mkdir -p "$work"
# The guest's benchmark program is static: the initramfs has no C library.
gcc -O2 -static -o "$work/diskbench" "$repo/tests/bench/ide/diskbench.c"
"$repo/scripts/mkinitramfs.sh" "$work/bench.cpio.gz" "$repo/tests/bench/ide/bench-init.sh" \
  --modules "ata_piix sd_mod" --add "$work/diskbench:/bin/diskbench"
exec "$repo/scripts/kvm-sandbox" --timeout 3000 --rw "$work" -- \
  python3 "$repo/tests/bench/ide/ide_bench.py" --minivmm "$build/minivmm" \
  --kernel "$repo/var/guest/vmlinuz" --initrd "$work/bench.cpio.gz" --workdir "$work" "$@"
