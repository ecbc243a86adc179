#!/bin/sh
# /init of var/guest/hello.cpio.gz (built by scripts/setup.sh with scripts/mkinitramfs.sh): the
# smallest useful Linux guest. It proves the guest reached userspace by printing
# HELLO-FROM-NESTED-GUEST and the number of online CPUs on the console, then powers off.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
echo "HELLO-FROM-NESTED-GUEST"
echo "nproc: $(nproc)"
echo "uptime: $(cut -d' ' -f1 /proc/uptime)"
poweroff -f
