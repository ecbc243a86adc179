#!/usr/bin/env bash
# Builds a guest disk image without mounting anything or using loop devices:
#
#   scripts/mkrootdisk.sh OUT.qcow2 SIZE ROOTDIR
#
# OUT.qcow2 gets an MBR partition table with one Linux partition from 1 MiB to the end, holding
# an ext4 file system populated from ROOTDIR (the guest sees it as /dev/sda1). SIZE is the disk's
# size as qemu-img and truncate read it (e.g. 256M, 2G). Steps: mkfs.ext4 -d on a partition-sized
# raw file, sfdisk on a raw disk file, the partition copied in with dd, qemu-img convert -O qcow2,
# then qemu-img check and a debugfs listing of the root directory as verification.
# Needs e2fsprogs, fdisk and qemu-utils.
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 OUT.qcow2 SIZE ROOTDIR" >&2
  exit 2
fi
out=$1
size=$2
rootdir=$3
[[ -d $rootdir ]] || { echo "$0: $rootdir is not a directory" >&2; exit 2; }
for tool in mkfs.ext4 sfdisk qemu-img debugfs truncate dd; do
  command -v "$tool" > /dev/null || { echo "$0: $tool is missing (scripts/setup.sh)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/mkrootdisk.XXXXXX")
trap 'rm -rf "$work"' EXIT
disk=$work/disk.raw
part=$work/part.raw

truncate -s "$size" "$disk"
disk_bytes=$(stat -c %s "$disk")
start_bytes=$((1024 * 1024))
if ((disk_bytes < 16 * 1024 * 1024)); then
  echo "$0: $size is too small (at least 16M)" >&2
  exit 2
fi
# One partition from sector 2048 (1 MiB) to the end, type 83 (Linux).
printf 'label: dos\nstart=2048, type=83\n' | sfdisk --quiet "$disk"
part_sectors=$(sfdisk --dump "$disk" | sed -n 's/.*size= *\([0-9]*\).*/\1/p')
truncate -s $((part_sectors * 512)) "$part"
# -d copies ROOTDIR in without mounting; root owns every file, as in a guest's root file system.
mkfs.ext4 -q -F -L rootfs -E root_owner=0:0 -d "$rootdir" "$part"
dd if="$part" of="$disk" bs=1M seek=$((start_bytes / 1024 / 1024)) conv=notrunc,sparse status=none
qemu-img convert -f raw -O qcow2 "$disk" "$out"

qemu-img check -q "$out"
debugfs -R 'ls -l /' "$part" 2> /dev/null
