#!/bin/sh
# /sbin/init of the IDE tests' root file system (var/guest/rootdisk.qcow2, partition 1, ext4;
# built by scripts/setup.sh). Reports as "MVM ..." lines what a user checks of the disk and the
# CDs, writes a file for the host to read back out of the image, then powers off.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

echo "MVM root $(awk '$2 == "/" { print $1, $3, $4 }' /proc/mounts | tail -n 1)"
for dev in /sys/class/ata_device/*; do
  [ -e "$dev/xfer_mode" ] && echo "MVM xfer_mode ${dev##*/} $(cat "$dev/xfer_mode")"
done
for disk in /sys/block/sd* /sys/block/sr*; do
  [ -e "$disk" ] || continue
  echo "MVM block ${disk##*/} sectors=$(cat "$disk/size") model=$(tr ' ' _ < "$disk/device/model") ro=$(cat "$disk/ro")"
done
echo "MVM host_file $(sha256sum /etc/host-file | cut -d' ' -f1)"

# A file of fresh random data: the host reads it back out of the image after the poweroff.
dd if=/dev/urandom of=/written.bin bs=64k count=64 2>/dev/null
sync
echo "MVM written $(sha256sum /written.bin | cut -d' ' -f1)"
# Read back through the page cache dropped, so the bytes come from the disk.
echo 3 > /proc/sys/vm/drop_caches
echo "MVM reread $(sha256sum /written.bin | cut -d' ' -f1)"

for cd in /dev/sr*; do
  [ -b "$cd" ] || continue
  name=${cd##*/}
  if out=$(dd if="$cd" of=/dev/null bs=2048 count=1 2>&1); then
    mkdir -p "/mnt/$name"
    if mount -t iso9660 -o ro "$cd" "/mnt/$name"; then
      echo "MVM cd $name medium files=$(ls "/mnt/$name" | tr '\n' ,) sha256=$(sha256sum "/mnt/$name/cd-file" | cut -d' ' -f1)"
      umount "/mnt/$name"
    else
      echo "MVM cd $name medium unmountable"
    fi
  else
    echo "MVM cd $name error $(echo "$out" | head -n 1 | sed 's/.*: //')"
  fi
done

sync
echo "MVM poweroff"
poweroff -f
