#!/bin/sh
# /init of the IDE tests' initramfs (var/guest/disk-guest.cpio.gz, built by scripts/setup.sh):
# what a distribution's initramfs does for a PC with an IDE disk, and no more. It loads the disk
# and CD drivers (ata_piix, sd_mod, sr_mod, ext4 with crc32c, isofs, with their dependencies), waits for the
# root= device, mounts it and hands over to its /sbin/init. Prints "MVM initramfs ..." lines.
mount -t proc proc /proc
# The kernel's info messages (an e1000 link coming up, say) reach the serial console in the
# middle of this script's lines and would break the "MVM ..." lines the host parses; errors and
# oopses still show. The setting holds for the root file system's init too.
echo 4 > /proc/sys/kernel/printk
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

for module in $(cat /lib/modules/load-order); do
  insmod "$module" || echo "MVM initramfs insmod_failed ${module##*/}"
done

root=
for word in $(cat /proc/cmdline); do
  case $word in root=*) root=${word#root=} ;; esac
done
[ -n "$root" ] || { echo "MVM initramfs no root= on the command line"; poweroff -f; }
tries=0
while [ ! -b "$root" ] && [ $tries -lt 300 ]; do
  sleep 0.1
  tries=$((tries + 1))
done
[ -b "$root" ] || { echo "MVM initramfs no $root"; ls /dev; poweroff -f; }
mkdir -p /newroot
mount -t ext4 "$root" /newroot || { echo "MVM initramfs cannot mount $root"; poweroff -f; }
echo "MVM initramfs root $root"
umount /proc /sys /dev
exec switch_root /newroot /sbin/init
