#!/bin/sh
# /init of the IDE benchmark's guest: loads the IDE disk drivers, runs diskbench on /dev/sda and
# powers off. The kernel command line gives the size (mvm.mib) and the random reads (mvm.reads).
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for module in $(cat /lib/modules/load-order); do insmod "$module"; done
arg() {
  for word in $(cat /proc/cmdline); do
    case $word in "$1"=*) echo "${word#*=}"; return ;; esac
  done
  echo "$2"
}
tries=0
while [ ! -b /dev/sda ] && [ $tries -lt 300 ]; do
  sleep 0.1
  tries=$((tries + 1))
done
echo "BENCH mode $(cat /sys/class/ata_device/dev1.0/xfer_mode)"
/bin/diskbench /dev/sda "$(arg mvm.mib 256)" "$(arg mvm.reads 2000)"
echo "BENCH done"
poweroff -f
