#!/bin/sh
# Seed corpus for qcow2_open_fuzz, made by qemu-img and qemu-io: small images of every kind the
# engine reads (versions, cluster sizes, refcount widths, compressed and zero clusters, backing
# file names, feature tables). Usage: make_corpus.sh DIR
set -eu
dir=${1:?usage: make_corpus.sh DIR}
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
seed() {  # seed NAME CREATE-OPTIONS
  n=$((n + 1))
  qemu-img create -q -f qcow2 -o "$2" "$tmp/$1.qcow2" 1M
  qemu-io -f qcow2 -c 'write -P 0x11 0 5k' -c 'write -z 64k 64k' -c 'write -P 0x22 200k 3k' \
    "$tmp/$1.qcow2" > /dev/null
  cp "$tmp/$1.qcow2" "$dir/$1"
}
seed v2 compat=0.10,cluster_size=4k
seed v3 compat=1.1,cluster_size=4k
seed c512 cluster_size=512
seed c64k cluster_size=64k
seed rc1 cluster_size=4k,refcount_bits=1
seed rc64 cluster_size=4k,refcount_bits=64
seed lazy cluster_size=4k,lazy_refcounts=on
qemu-img create -q -f qcow2 -u -o cluster_size=4k -b base.qcow2 -F qcow2 "$dir/backing" 1M
head -c 300000 /dev/urandom > "$tmp/r.raw"
head -c 300000 /dev/zero >> "$tmp/r.raw"
qemu-img convert -c -O qcow2 -o cluster_size=4k "$tmp/r.raw" "$dir/compressed"
echo "corpus in $dir"
