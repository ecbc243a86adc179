#!/usr/bin/env bash
# Builds minivmm and boots the demo VM (examples/demo.json: 2 pinned vCPUs, 512 MiB, Debian's
# kernel with a busybox initramfs that reports what it sees and powers off). Runs in the KVM
# sandbox where this machine has no /dev/kvm. As root on Debian 12:
#
#   scripts/demo.sh
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
scripts/setup.sh
cmake -S . -B build -G Ninja -DMINIVMM_TESTS=OFF >/dev/null
cmake --build build -j "$(nproc)"
exec scripts/kvm-sandbox --timeout 600 -- "$repo/build/minivmm" --config "$repo/examples/demo.json"
