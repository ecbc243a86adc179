#!/usr/bin/env bash
# Builds minivmm and boots the demo VM (examples/demo.json: the seed's i440FX machine with 2
# pinned vCPUs, 512 MiB, Debian's kernel with root=/dev/sda1 on a qcow2 IDE disk, a copy of the
# test root disk in var/demo/, and the seed's empty CD tray; the guest reports what it sees and
# powers off). Runs in the KVM sandbox where this machine has no /dev/kvm. As root on Debian 12:
#
#   scripts/demo.sh
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
scripts/setup.sh
cmake -S . -B build -G Ninja -DMINIVMM_TESTS=OFF >/dev/null
cmake --build build -j "$(nproc)"
mkdir -p var/demo
[[ -e var/demo/vm.qcow2 ]] || cp var/guest/rootdisk.qcow2 var/demo/vm.qcow2
# The unpacked kernel is kept beside the disk: the sandbox's own $HOME is read-only.
export MINIVMM_CACHE_DIR=$repo/var/demo/kernel-cache
exec scripts/kvm-sandbox --timeout 600 --rw "$repo/var/demo" -- \
  "$repo/build/minivmm" --config "$repo/examples/demo.json"
