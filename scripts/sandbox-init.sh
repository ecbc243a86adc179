#!/bin/sh
# /init of the KVM sandbox initramfs (var/guest/sandbox.cpio.gz, built by scripts/kvm-sandbox).
# Not called by hand. It loads the modules for 9p and KVM, mounts the host's root file system
# (9p tag "hostroot", read-only) and the writable 9p shares that kvm-sandbox listed in the
# "results" share's "mounts" file, chroots into the host's root, runs the job kvm-sandbox wrote
# (results/job.sh: working directory, environment, command) with its output in results/stdout and
# results/stderr, records its exit status in results/status and powers off. While the job runs
# it rewrites results/heartbeat every 5 s.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

# A module's parameters come from the kernel command line as MODULE.PARAM=VALUE (what modprobe
# would pass; busybox insmod does not look), e.g. KVM_SANDBOX_APPEND="kvm_amd.npt=0".
while read -r m; do
  name=$(basename "$m" .ko | tr - _)
  params=
  for arg in $(cat /proc/cmdline); do
    case $arg in "$name".*=*) params="$params ${arg#"$name".}" ;; esac
  done
  # shellcheck disable=SC2086 # one word per parameter
  insmod "$m" $params || echo "sandbox-init: insmod $m$params failed"
done </lib/modules/load-order

root=/mnt/root
res=/mnt/results
mkdir -p $root $res
# The root share is read-only and the host does not change it during a run, so the guest may cache
# it (cache=loose), which makes reading binaries and libraries much faster; the writable shares are
# uncached so that every write reaches the host at once.
opts=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o $opts,ro,cache=loose hostroot $root || echo "sandbox-init: cannot mount hostroot"
mount -t 9p -o $opts results $res || echo "sandbox-init: cannot mount results"

# mounts: one "TAG GUESTPATH" a line; the tag "results" is the share already mounted at $res, and
# its path is where the job finds it inside the chroot.
respath=
while read -r tag path; do
  if [ "$tag" = results ]; then
    respath=$path
    mount --bind $res "$root$path"
  else
    mount -t 9p -o $opts "$tag" "$root$path"
  fi || echo "sandbox-init: cannot mount $tag at $path"
done <$res/mounts

mount -t proc proc $root/proc
mount -t sysfs sysfs $root/sys
mount -t devtmpfs devtmpfs $root/dev
mkdir -p $root/dev/pts $root/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts $root/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $root/dev/shm
mount -t tmpfs -o mode=1777 tmpfs $root/tmp
mount -t tmpfs -o mode=755 tmpfs $root/run
ip link set lo up

# The heartbeat tells kvm-sandbox that this kernel still schedules and its 9p still writes: QEMU's
# TCG was seen to freeze a whole sandbox silently, with no lockup report on its console.
while :; do
  date +%s >$res/heartbeat
  sleep 5
done &
echo "sandbox-init: running job"
chroot $root /bin/bash "$respath/job.sh" </dev/null >$res/stdout 2>$res/stderr
echo $? >$res/status.tmp
mv $res/status.tmp $res/status
echo "sandbox-init: job exited $(cat $res/status)"
poweroff -f
