#!/usr/bin/env bash
# Runs the end-to-end tests (tests/e2e/run_e2e.py) against build/minivmm:
#
#   tests/e2e/run.sh [BUILD_DIR] [-k NAME]
#
# Guests need /dev/kvm and the placement tests need a host with four NUMA nodes. Where hardware
# KVM is here and the host has four nodes they run directly; otherwise each test runs in its own
# KVM sandbox (scripts/kvm-sandbox) that emulates a 4-node host. Nested KVM under TCG freezes a
# guest now and then: run_e2e.py reports such a guest as a hang and runs the test again (five
# tries in all); a sandbox that gives no result at all (its kernel locked up, see kvm-sandbox, or
# oopsed, which run_e2e.py ends the run on) is reported as a hang and made again, up to five
# sandboxes; a fifth such hang fails the test.
# Tests that end before /dev/kvm would be opened (run_e2e.py --list-host) run on this machine,
# outside the sandbox. Ends with "e2e: N passed, N failed". Needs scripts/setup.sh.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$repo/build}
[[ $# -gt 0 ]] && shift
filter=
if [[ ${1:-} == -k ]]; then filter=$2; fi
work=$repo/var/e2e
rm -rf "$work"
mkdir -p "$work"
# The bzImage minivmm unpacks (boot/kernel_cache.h) is kept from test to test within this run.
export MINIVMM_CACHE_DIR=$work/kernel-cache

cmd=(python3 "$repo/tests/e2e/run_e2e.py" --minivmm "$build/minivmm"
  --kernel "$repo/var/guest/vmlinuz" --initrd "$repo/var/guest/test-guest.cpio.gz"
  --workdir "$work")

# Hardware KVM, not just any /dev/kvm (some machines have a paravirtual one that cannot run
# ordinary guests): the same test scripts/kvm-sandbox makes.
nodes=$(find /sys/devices/system/node -maxdepth 1 -name 'node[0-9]*' 2>/dev/null | wc -l)
if [[ -c /dev/kvm && (-d /sys/module/kvm_amd || -d /sys/module/kvm_intel) ]] && ((nodes >= 4)); then
  exec timeout 1200 "${cmd[@]}" -k "$filter"
fi

passed=0 failed=0
host_tests=$(python3 "$repo/tests/e2e/run_e2e.py" --list-host)
for test in $host_tests; do
  [[ $test == *"$filter"* ]] || continue
  if "${cmd[@]}" -k "$test"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
for test in $(python3 "$repo/tests/e2e/run_e2e.py" --list); do
  [[ $test == *"$filter"* ]] || continue
  grep -qxF "$test" <<<"$host_tests" && continue
  for attempt in 1 2 3 4 5; do
    log=$(mktemp)
    status=0
    "$repo/scripts/kvm-sandbox" --sandbox --numa 4 --timeout 1000 --rw "$work" -- \
      "${cmd[@]}" -k "$test" 2>&1 | tee "$log" || status=${PIPESTATUS[0]}
    summary=$(grep -E '^e2e: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
    rm -f "$log"
    if [[ -n $summary ]]; then
      passed=$((passed + $(sed -E 's/^e2e: ([0-9]+) passed.*/\1/' <<<"$summary")))
      failed=$((failed + $(sed -E 's/.*passed, ([0-9]+) failed.*/\1/' <<<"$summary")))
      break
    fi
    echo "e2e: HANG: the KVM sandbox gave no result for $test (status $status, attempt $attempt)"
    ((attempt == 5)) && failed=$((failed + 1))
  done
done
echo "e2e: $passed passed, $failed failed"
((failed == 0 && passed > 0))
