#!/bin/bash
# minivmm-img bench against qemu-img bench: same image, same flags, alternating runs; prints the
# median of per-pair speed ratios (qemu-img time / minivmm-img time; above 1 means faster).
# Usage: tests/bench/img/run.sh [BUILD_DIR] [PAIRS]   (BUILD_DIR holds a release minivmm-img)
# A comparison, never pass/fail. Needs qemu-utils and ~3 GiB of free space in $TMPDIR.
set -euo pipefail
build=${1:-build}
pairs=${2:-5}
ours="$build/minivmm-img"
[ -x "$ours" ] || { echo "no $ours: build the minivmm-img target first" >&2; exit 1; }
command -v qemu-img > /dev/null || { echo "qemu-img (qemu-utils) is required" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/img-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT

# A fully allocated image for the read cases (64 KiB clusters).
qemu-img create -q -f qcow2 "$work/full.qcow2" 512M
qemu-io -f qcow2 -c 'write -P 0x5a 0 512M' "$work/full.qcow2" > /dev/null

seconds() { sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p'; }

# run_case NAME WRITE(0|1) FLAGS...
run_case() {
  local name=$1 write=$2
  shift 2
  local ratios=() ours_t=() qemu_t=()
  for ((i = 0; i < pairs; i++)); do
    local order=(ours qemu)
    ((i % 2 == 1)) && order=(qemu ours)
    for tool in "${order[@]}"; do
      local img="$work/full.qcow2"
      if ((write)); then
        img="$work/fresh.qcow2"
        qemu-img create -q -f qcow2 "$img" 4G
      fi
      local bin=qemu-img
      [ "$tool" = ours ] && bin=$ours
      sync
      local t
      t=$("$bin" bench -f qcow2 "$@" "$img" | seconds)
      [ "$tool" = ours ] && ours_t+=("$t") || qemu_t+=("$t")
    done
    ratios+=("$(echo "${qemu_t[-1]} / ${ours_t[-1]}" | bc -l)")
  done
  median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  printf '| %-34s | %9.3f | %9.3f | %6.2fx |\n' "$name" "$(median "${ours_t[@]}")" \
    "$(median "${qemu_t[@]}")" "$(median "${ratios[@]}")"
}

echo "| case                               | ours (s)  | qemu (s)  | ratio   |"
echo "|------------------------------------|-----------|-----------|---------|"
run_case "64 KiB sequential reads"           0 -c 16000 -d 64 -s 64k
run_case "4 KiB strided reads (step 64 KiB)" 0 -c 75000 -d 64 -s 4k -S 64k
run_case "64 KiB sequential allocating writes" 1 -w -c 16000 -d 64 -s 64k
run_case "4 KiB strided allocating writes"   1 -w -c 16000 -d 64 -s 4k -S 64k
echo "ratio: median over $pairs alternating pairs of qemu-img time / minivmm-img time"
