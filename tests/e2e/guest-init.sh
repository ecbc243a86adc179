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
#   net     load the image's modules (the e1000 driver), lease an address for every ethN with
#           udhcpc and report it as "MVM net ...", print "MVM ready", then run each console line
#           as a shell command (the mvm_* helpers below help) and answer "MVM done STATUS";
#           the line "poweroff" ends it
mount -t proc proc /proc
# The kernel's info messages (an e1000 link coming up, say) reach the serial console in the
# middle of this script's lines and would break the "MVM ..." lines the host parses; errors and
# oopses still show.
echo 4 > /proc/sys/kernel/printk
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
echo "MVM cpuflags $(grep -m 1 '^flags' /proc/cpuinfo | cut -d: -f2)"
echo "MVM dmi_product $(cat /sys/class/dmi/id/product_name 2>/dev/null)"
echo "MVM cmdline $(cat /proc/cmdline)"
echo "MVM uptime $(cut -d' ' -f1 /proc/uptime)"

# Helpers for the net mode's console commands. Their stdin never is the console, which carries
# the next command.
#
# mvm_serve PORT MIB: serve one TCP connection on PORT: send MIB MiB of random data and keep
# what the peer sends until it closes; report both checksums.
mvm_serve() {
  head -c "$(($2 * 1048576))" /dev/urandom >/tmp/tx
  echo "MVM tx $(sha256sum </tmp/tx | cut -d' ' -f1) $(wc -c </tmp/tx)"
  nc -l -p "$1" </tmp/tx >/tmp/rx &
  nc_pid=$!
  mvm_wait_listen "$1"
  mvm_watch "$nc_pid" &
  watch_pid=$!
  wait "$nc_pid"
  kill "$watch_pid"
  echo "MVM rx $(sha256sum </tmp/rx | cut -d' ' -f1) $(wc -c </tmp/rx)"
  rm -f /tmp/tx /tmp/rx
}
# mvm_watch PID: for the host's failure report, where PID waits, every 10 s once it has run for
# 45 s (an exchange takes about 15 s in the KVM sandbox).
mvm_watch() {
  sleep 45
  while [ -e "/proc/$1" ]; do
    echo "MVM slow pid=$1 state=$(cut -d' ' -f3 "/proc/$1/stat") cpu=$(cut -d' ' -f39 "/proc/$1/stat") wchan=$(cat "/proc/$1/wchan") rx=$(wc -c </tmp/rx) stack=$(cut -d' ' -f2 "/proc/$1/stack" | tr '\n' ,) irqs=$(grep -E 'eth|LOC|RES|CAL' /proc/interrupts | tr -s ' ' | tr '\n' ';')"
    sleep 10
  done
}
# mvm_wait_listen PORT: until a TCP socket listens on PORT, then "MVM listening PORT".
mvm_wait_listen() {
  while ! netstat -ltn | grep -q ":$1 "; do usleep 20000; done
  echo "MVM listening $1"
}
# mvm_fetch URL: download URL and report its checksum and size.
mvm_fetch() {
  wget -q -O /tmp/fetched "$1" </dev/null
  echo "MVM fetched $? $(sha256sum </tmp/fetched | cut -d' ' -f1) $(wc -c </tmp/fetched)"
  rm -f /tmp/fetched
}
# mvm_stats IFACE: the interface's counters, as ethtool -S would give the driver's.
mvm_stats() {
  line="MVM stats $1"
  for f in rx_packets tx_packets rx_bytes tx_bytes rx_errors tx_errors rx_dropped tx_dropped; do
    line="$line $f=$(cat "/sys/class/net/$1/statistics/$f")"
  done
  echo "$line"
}

case $(arg mvm.mode report) in
  net)
    while read -r module; do
      insmod "$module" || echo "MVM insmod_failed $module"
    done </lib/modules/load-order
    ip link set lo up
    for path in /sys/class/net/eth*; do
      [ -e "$path" ] || continue
      i=${path##*/}
      ip link set "$i" up
      udhcpc -i "$i" -n -q -t 20 -T 1 </dev/null
      echo "MVM net $i pci=$(basename "$(readlink -f "$path/device")") mac=$(cat "$path/address") ip=$(ip -4 addr show dev "$i" | awk '/inet / { print $2 }')"
    done
    echo "MVM ready"
    while read -r line; do
      [ "$line" = poweroff ] && break
      eval "$line"
      echo "MVM done $?"
    done
    ;;
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
