#!/bin/sh
# /init of the e2e test guest (var/guest/test-guest.cpio.gz, built by scripts/setup.sh).
# It reports what the machine looks like from inside as lines starting with "MVM " that the
# e2e tests parse, then acts on mvm.mode= from the kernel command line:
#   report  (default) print the report and power off
#   hold    touch mvm.touch_mib MiB of RAM, print "MVM ready", wait for a line on the console,
#           then power off (lets the host inspect the running VM)
#   reboot  print the report and reboot (tests on_reboot)
#   numa    fill a tmpfs bound to each guest NUMA node with mvm.touch_mib MiB, print
#           "MVM ready", wait for a line on the console, then power off
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

arg() {
  for word in $(cat /proc/cmdline); do
    case $word in "$1"=*) echo "${word#*=}"; return ;; esac
  done
  echo "$2"
}

echo "MVM boot"
echo "MVM nproc $(nproc)"
echo "MVM online $(cat /sys/devices/system/cpu/online)"
for dev in /sys/bus/pci/devices/*; do
  [ -e "$dev/vendor" ] || continue
  echo "MVM pci ${dev##*/} $(cat "$dev/vendor") $(cat "$dev/device") $(cat "$dev/class")"
done
echo "MVM memtotal_kib $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
for node in /sys/devices/system/node/node*; do
  [ -e "$node/cpulist" ] || continue
  echo "MVM node ${node##*node} cpus=$(cat "$node/cpulist") memtotal_kib=$(awk '/MemTotal/ { print $4 }' "$node/meminfo") distance=$(cat "$node/distance" | tr ' ' ,)"
done
for cpu in /sys/devices/system/cpu/cpu[0-9]*; do
  t=$cpu/topology
  echo "MVM cpu ${cpu##*cpu} package=$(cat $t/physical_package_id) core=$(cat $t/core_id) siblings=$(cat $t/thread_siblings_list)"
done
echo "MVM dmi_uuid $(cat /sys/class/dmi/id/product_uuid 2>/dev/null)"
dmidecode >/tmp/dmi.txt 2>&1
echo "MVM dmidecode_status $? structures=$(grep -c '^Handle ' /tmp/dmi.txt) complaints=$(grep -ciE 'wrong|invalid|warning|bad index|out of spec|truncated' /tmp/dmi.txt)"
lscpu >/tmp/lscpu.txt 2>&1
for key in "Socket(s)" "Core(s) per socket" "Thread(s) per core" "NUMA node(s)"; do
  value=$(grep "^$key:" /tmp/lscpu.txt | cut -d: -f2 | tr -d ' ')
  echo "MVM lscpu $(echo "$key" | tr -d ' ')=$value"
done
echo "MVM dmi_product $(cat /sys/class/dmi/id/product_name 2>/dev/null)"
echo "MVM cmdline $(cat /proc/cmdline)"
echo "MVM uptime $(cut -d' ' -f1 /proc/uptime)"

case $(arg mvm.mode report) in
  hold)
    mib=$(arg mvm.touch_mib 64)
    mount -t tmpfs -o size=$((mib + 16))m tmpfs /mnt
    dd if=/dev/zero of=/mnt/touch bs=1M count="$mib" 2>/dev/null
    echo "MVM ready"
    read -r line
    echo "MVM got $line"
    ;;
  numa)
    mib=$(arg mvm.touch_mib 128)
    for node in /sys/devices/system/node/node*; do
      n=${node##*node}
      mkdir -p /mnt/node$n
      # tmpfs pages follow the mount's memory policy: bound, they come from that guest node.
      mount -t tmpfs -o size=$((mib + 16))m,mpol=bind:$n tmpfs /mnt/node$n
      dd if=/dev/zero of=/mnt/node$n/touch bs=1M count="$mib" 2>/dev/null
      echo "MVM touched node $n $(du -k /mnt/node$n/touch | cut -f1)"
    done
    echo "MVM ready"
    read -r line
    ;;
  reboot)
    echo "MVM rebooting"
    reboot -f
    ;;
esac
echo "MVM poweroff"
poweroff -f
