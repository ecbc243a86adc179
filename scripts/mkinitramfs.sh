#!/usr/bin/env bash
# Builds a small initramfs (newc cpio, gzip) from busybox-static for the guest kernel in var/guest/.
#
#   scripts/mkinitramfs.sh OUT.cpio.gz INIT_SCRIPT [--modules "mod1 mod2 ..."] [--add HOSTPATH:GUESTPATH ...]
#
# The image holds /bin/busybox with a symlink for every applet (so the init needs no
# `busybox --install`), INIT_SCRIPT as /init, and the named kernel modules of the kernel that
# scripts/setup.sh unpacked into var/guest/kernel/, with their dependencies from its modules.dep.
# Modules go to /lib/modules/NAME.ko, uncompressed (busybox insmod may not read .ko.xz), and
# /lib/modules/load-order lists their paths in an order insmod accepts (dependencies first).
# Modules built into the kernel are skipped. --add copies a host file or directory into the image.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kroot=$repo/var/guest/kernel

usage() {
  sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2
  exit 2
}
(($# >= 2)) || usage
out=$1 init=$2
shift 2
modules=()
adds=()
while (($#)); do
  case $1 in
    --modules)
      (($# >= 2)) || usage
      read -r -d '' -a more <<<"$2" || true # the list may span lines
      modules+=("${more[@]}")
      shift 2
      ;;
    --add)
      (($# >= 2)) || usage
      [[ $2 == *:/* ]] || usage
      adds+=("$2")
      shift 2
      ;;
    *) usage ;;
  esac
done
[[ -f $init ]] || {
  echo "mkinitramfs: no init script $init" >&2
  exit 1
}
busybox=/bin/busybox
[[ -x $busybox ]] || {
  echo "mkinitramfs: $busybox missing (apt-get install busybox-static; scripts/setup.sh)" >&2
  exit 1
}

stage=$(mktemp -d)
tmp=
trap 'rm -rf "$stage" ${tmp:+"$tmp"}' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,mnt,root,etc,lib/modules}
cp "$busybox" "$stage/bin/busybox"
# --list-full prints each applet's install path, e.g. "sbin/insmod".
while read -r applet; do
  [[ -e $stage/$applet ]] || ln -s /bin/busybox "$stage/$applet"
done < <("$busybox" --list-full)
install -m 755 "$init" "$stage/init"
# The kernel opens /dev/console for the init before anything can mount devtmpfs.
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true

if ((${#modules[@]})); then
  kver=$(cat "$repo/var/guest/kernel-version" 2>/dev/null) || {
    echo "mkinitramfs: no guest kernel in var/guest (run scripts/setup.sh)" >&2
    exit 1
  }
  mdir=$kroot/lib/modules/$kver
  [[ -f $mdir/modules.dep ]] || {
    echo "mkinitramfs: $mdir/modules.dep missing (run scripts/setup.sh)" >&2
    exit 1
  }
  # Module names treat '-' and '_' alike: kvm-amd.ko is the module kvm_amd.
  # Sets $name (no subshell: modules.dep has thousands of lines).
  modname() {
    name=${1##*/}
    name=${name%%.ko*}
    name=${name//-/_}
  }
  declare -A path_of=() deps_of=() builtin=() seen=()
  while IFS=: read -r file deps; do
    modname "$file"
    path_of[$name]=$file
    deps_of[$name]=$deps
  done <"$mdir/modules.dep"
  while read -r file; do
    modname "$file"
    builtin[$name]=1
  done <"$mdir/modules.builtin"

  order=()
  # Depth-first, dependencies before the module that needs them.
  visit() {
    local name dep
    modname "$1"
    [[ -z ${seen[$name]:-} ]] || return 0
    seen[$name]=1
    if [[ -z ${path_of[$name]:-} ]]; then
      [[ -n ${builtin[$name]:-} ]] && return 0
      echo "mkinitramfs: module $1 is not in $mdir" >&2
      exit 1
    fi
    for dep in ${deps_of[$name]}; do
      visit "$dep"
    done
    order+=("$name")
  }
  for m in "${modules[@]}"; do
    visit "$m"
  done

  for name in "${order[@]}"; do
    src=$mdir/${path_of[$name]}
    dst=$stage/lib/modules/$name.ko
    case $src in
      *.ko) cp "$src" "$dst" ;;
      *.ko.xz) xz -dc "$src" >"$dst" ;;
      *.ko.zst) zstd -qdc "$src" >"$dst" ;;
      *.ko.gz) gzip -dc "$src" >"$dst" ;;
      *)
        echo "mkinitramfs: unknown module format $src" >&2
        exit 1
        ;;
    esac
    echo "/lib/modules/$name.ko" >>"$stage/lib/modules/load-order"
  done
fi
touch "$stage/lib/modules/load-order"

for a in "${adds[@]}"; do
  host=${a%%:/*} guestpath=/${a#*:/}
  mkdir -p "$stage$(dirname "$guestpath")"
  cp -a "$host" "$stage$guestpath"
done

mkdir -p "$(dirname "$out")"
tmp=$(mktemp "$out.XXXXXX")
(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
  cpio --null --create --format=newc --owner=0:0 --reproducible --quiet) | gzip -n -6 >"$tmp"
chmod 644 "$tmp"
mv -f "$tmp" "$out"
