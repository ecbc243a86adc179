#!/usr/bin/env bash
# Installs everything minivmm's build, tests and KVM sandbox need on a Debian 12 machine, as root.
#
#   scripts/setup.sh
#
# Idempotent and quick when already done:
#   1. apt-get install of the build/test/sandbox packages (apt-get update only when a package is
#      missing and the package lists are absent or stale);
#   2. Debian's guest kernel (the package linux-image-amd64 points to) fetched with apt-get download
#      and unpacked with dpkg -x into var/guest/kernel/ (no install, so no initramfs triggers), its
#      modules.dep made with depmod, var/guest/vmlinuz linked to its bzImage, and var/guest/vmlinux
#      its uncompressed ELF image (QEMU boots that one through its PVH entry point, which spares the
#      sandbox seconds of decompressing under TCG);
#   3. the initramfs images from busybox-static: var/guest/sandbox.cpio.gz (the KVM sandbox, see
#      scripts/kvm-sandbox) and var/guest/hello.cpio.gz (a tiny guest that prints a marker, see
#      scripts/hello-init.sh).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
guest=$repo/var/guest

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang-format
  # libraries
  libnuma-dev libcli11-dev libspdlog-dev nlohmann-json3-dev libgtest-dev libgmock-dev zlib1g-dev
  libslirp-dev liburing-dev liblzma-dev libzstd-dev
  # tools the tests and firmware build use
  numactl acpica-tools python3 dmidecode
  # disk and CD images for the IDE tests
  e2fsprogs fdisk genisoimage
  # KVM sandbox and guest images
  qemu-system-x86 qemu-utils busybox-static cpio kmod xz-utils zstd util-linux coreutils
  ca-certificates
)

log() { printf 'setup: %s\n' "$*"; }

if [[ $(id -u) -ne 0 ]]; then
  echo "setup: must run as root (apt-get install)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive

# The package lists are stale when absent or older than a day.
lists_stale() {
  [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 -print -quit) ]]
}
updated=0
apt_update() {
  if ((updated == 0)); then
    log "apt-get update"
    apt-get update -qq
    updated=1
  fi
}

declare -A installed=()
while read -r p status; do
  [[ $status == "install ok installed" ]] && installed[$p]=1
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)
missing=()
for p in "${packages[@]}"; do
  [[ -n ${installed[$p]:-} ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  lists_stale && apt_update
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    apt_update
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

# The guest kernel: the package the metapackage linux-image-amd64 depends on, e.g.
# linux-image-6.1.0-56-amd64. Skipped when that version is already unpacked.
kernel_package() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}
pkg=$(kernel_package || true)
if [[ -z $pkg ]]; then
  apt_update
  pkg=$(kernel_package)
fi
[[ -n $pkg ]] || {
  echo "setup: cannot resolve linux-image-amd64" >&2
  exit 1
}
kver=${pkg#linux-image-}
if [[ $(cat "$guest/kernel-version" 2>/dev/null) != "$kver" || ! -e $guest/vmlinuz ]]; then
  log "fetching guest kernel $pkg"
  mkdir -p "$guest"
  debs=$(mktemp -d "$guest/debs.XXXXXX")
  # -o APT::Sandbox::User=root: _apt cannot write into a root-owned temporary directory.
  (cd "$debs" && apt-get download -qq -o APT::Sandbox::User=root "$pkg") || {
    apt_update
    (cd "$debs" && apt-get download -qq -o APT::Sandbox::User=root "$pkg")
  }
  unpacked=$(mktemp -d "$guest/kernel.XXXXXX")
  dpkg -x "$debs"/"$pkg"_*.deb "$unpacked"
  rm -rf "$debs"
  # The .deb has no modules.dep (its postinst runs depmod); mkinitramfs.sh needs it.
  depmod -b "$unpacked" "$kver"
  rm -rf "$guest/kernel"
  mv "$unpacked" "$guest/kernel"
  chmod 755 "$guest/kernel"
  ln -sfn "kernel/boot/vmlinuz-$kver" "$guest/vmlinuz"
  echo "$kver" >"$guest/kernel-version"
fi

# The bzImage's payload is one compressed stream (xz for Debian 12) holding the ELF vmlinux; like
# Linux's scripts/extract-vmlinux, try every place a known stream header occurs.
extract_vmlinux() {
  local bz=$1 out=$2 magic tool off
  for magic in '\xfd7zXZ\x00:xz' '\x28\xb5\x2f\xfd:zstd' '\x1f\x8b\x08:gzip'; do
    tool=${magic##*:}
    while IFS=: read -r off _; do
      case $tool in
        xz) tail -c +"$((off + 1))" "$bz" | xz -dcq --single-stream >"$out" 2>/dev/null || true ;;
        zstd) tail -c +"$((off + 1))" "$bz" | zstd -dcq >"$out" 2>/dev/null || true ;;
        gzip) tail -c +"$((off + 1))" "$bz" | gzip -dcq >"$out" 2>/dev/null || true ;;
      esac
      [[ $(head -c 4 "$out") == $'\x7fELF' ]] && return 0
    done < <(LC_ALL=C grep -obUaP "${magic%:*}" "$bz")
  done
  return 1
}
if [[ ! -s $guest/vmlinux || $guest/vmlinux -ot $guest/kernel-version ]]; then
  log "extracting $guest/vmlinux"
  extract_vmlinux "$guest/vmlinuz" "$guest/vmlinux.tmp" || {
    echo "setup: no ELF image found in $guest/vmlinuz" >&2
    exit 1
  }
  mv "$guest/vmlinux.tmp" "$guest/vmlinux"
fi

# Initramfs images; each is rebuilt only when older than what it is made from.
"$repo/scripts/kvm-sandbox" --prepare
hello=$guest/hello.cpio.gz
if [[ ! -e $hello || $hello -ot $repo/scripts/hello-init.sh || $hello -ot $repo/scripts/mkinitramfs.sh ||
  $hello -ot $guest/kernel-version ]]; then
  log "building $hello"
  "$repo/scripts/mkinitramfs.sh" "$hello" "$repo/scripts/hello-init.sh"
fi
# The e2e guest: busybox, plus dmidecode and lscpu with the libraries they load, so that the
# guest itself can judge its SMBIOS tables and CPU topology; and for the network tests the
# e1000 driver and udhcpc's event script.
test_guest=$guest/test-guest.cpio.gz
if [[ ! -e $test_guest || $test_guest -ot $repo/tests/e2e/guest-init.sh ||
  $test_guest -ot $repo/scripts/mkinitramfs.sh || $test_guest -ot $guest/kernel-version ||
  $test_guest -ot $repo/scripts/setup.sh || $test_guest -ot $repo/tests/e2e/udhcpc.script ]]; then
  log "building $test_guest"
  tools=()
  for bin in /usr/sbin/dmidecode /usr/bin/lscpu; do
    tools+=(--add "$bin:/usr/bin/${bin##*/}")
    while read -r lib; do
      tools+=(--add "$(readlink -f "$lib"):$lib")
    done < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
  done
  "$repo/scripts/mkinitramfs.sh" "$test_guest" "$repo/tests/e2e/guest-init.sh" "${tools[@]}" \
    --modules e1000 --add "$repo/tests/e2e/udhcpc.script:/etc/udhcpc/default.script"
fi
# The IDE tests' guests: an initramfs that loads the disk drivers and mounts root=, a qcow2 disk
# whose first partition holds a busybox root file system (with /etc/host-file, whose SHA-256 is
# kept beside the image for the tests), and an ISO 9660 CD holding cd-file (SHA-256 beside it).
disk_guest=$guest/disk-guest.cpio.gz
if [[ ! -e $disk_guest || $disk_guest -ot $repo/tests/e2e/disk-initramfs.sh ||
  $disk_guest -ot $repo/scripts/mkinitramfs.sh || $disk_guest -ot $guest/kernel-version ]]; then
  log "building $disk_guest"
  "$repo/scripts/mkinitramfs.sh" "$disk_guest" "$repo/tests/e2e/disk-initramfs.sh" \
    --modules "ata_piix sd_mod sr_mod ext4 crc32c_generic isofs"
fi
rootdisk=$guest/rootdisk.qcow2
if [[ ! -e $rootdisk || $rootdisk -ot $repo/tests/e2e/disk-root-init.sh ||
  $rootdisk -ot $repo/scripts/mkrootdisk.sh ]]; then
  log "building $rootdisk"
  rootdir=$(mktemp -d)
  mkdir -p "$rootdir"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,mnt,etc,root}
  cp /bin/busybox "$rootdir/bin/busybox"
  while read -r applet; do
    [[ -e $rootdir/$applet ]] || ln -s /bin/busybox "$rootdir/$applet"
  done < <(/bin/busybox --list-full)
  install -m 755 "$repo/tests/e2e/disk-root-init.sh" "$rootdir/sbin/init"
  head -c 1M /dev/urandom >"$rootdir/etc/host-file"
  sha256sum "$rootdir/etc/host-file" | cut -d' ' -f1 >"$rootdisk.host-file.sha256"
  "$repo/scripts/mkrootdisk.sh" "$rootdisk.tmp" 256M "$rootdir" >/dev/null
  rm -rf "$rootdir"
  mv "$rootdisk.tmp" "$rootdisk"
fi
cd_iso=$guest/cd.iso
if [[ ! -e $cd_iso || $cd_iso -ot $repo/scripts/mkiso.sh ]]; then
  log "building $cd_iso"
  cddir=$(mktemp -d)
  head -c 3M /dev/urandom >"$cddir/cd-file"
  sha256sum "$cddir/cd-file" | cut -d' ' -f1 >"$cd_iso.sha256"
  "$repo/scripts/mkiso.sh" "$cd_iso.tmp" "$cddir"
  rm -rf "$cddir"
  mv "$cd_iso.tmp" "$cd_iso"
fi
log "ready (guest kernel $kver)"
