#!/usr/bin/env bash
# Builds minivmm and runs every test: the unit tests under ASan and UBSan, then the end-to-end
# guests (in the KVM sandbox where /dev/kvm is missing). Run as root on Debian 12; it runs
# scripts/setup.sh first. Ends with "N passed, N failed" and a non-zero status on any failure.
#
#   scripts/test.sh
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
"$repo/scripts/setup.sh"

jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMINIVMM_TESTS=OFF >/dev/null
cmake --build build -j "$jobs"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMINIVMM_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"

passed=0 failed=0
count() {  # count PASSED FAILED
  passed=$((passed + $1))
  failed=$((failed + $2))
}

echo "== unit tests (ASan + UBSan)"
unit_log=$(mktemp)
export MINIVMM_TEST_KERNEL=$repo/var/guest/vmlinuz
ctest --test-dir build-asan --output-on-failure -j "$jobs" 2>&1 | tee "$unit_log" || true
# "100% tests passed, 0 tests failed out of 123"
if line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$unit_log"); then
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
  bad=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
  count $((total - bad)) "$bad"
else
  echo "unit tests: no ctest summary" && count 0 1
fi
rm -f "$unit_log"

echo "== end-to-end tests"
e2e_log=$(mktemp)
tests/e2e/run.sh "$repo/build" 2>&1 | tee "$e2e_log" || true
if line=$(grep -E '^e2e: [0-9]+ passed, [0-9]+ failed' "$e2e_log" | tail -n 1); then
  count "$(sed -E 's/^e2e: ([0-9]+) passed.*/\1/' <<<"$line")" \
    "$(sed -E 's/.*passed, ([0-9]+) failed.*/\1/' <<<"$line")"
else
  echo "e2e: no summary" && count 0 1
fi
rm -f "$e2e_log"

echo "all: $passed passed, $failed failed"
((failed == 0 && passed > 0))
