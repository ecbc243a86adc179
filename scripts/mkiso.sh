#!/usr/bin/env bash
# Builds an ISO 9660 image (Rock Ridge and Joliet names) of a directory, for the IDE CD-ROM:
#
#   scripts/mkiso.sh OUT.iso DIR
#
# Needs genisoimage.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 OUT.iso DIR" >&2
  exit 2
fi
[[ -d $2 ]] || { echo "$0: $2 is not a directory" >&2; exit 2; }
command -v genisoimage > /dev/null || { echo "$0: genisoimage is missing (scripts/setup.sh)" >&2; exit 1; }
genisoimage -quiet -R -J -V MINIVMM -o "$1" "$2"
