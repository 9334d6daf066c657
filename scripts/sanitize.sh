#!/usr/bin/env bash
# Builds ark and its tests with sanitizers and runs the whole suite there.
#
#   bash scripts/sanitize.sh asan [ctest args...]   # ASan + LSan + UBSan, in build-asan/
#   bash scripts/sanitize.sh tsan [ctest args...]   # TSan, in build-tsan/
#
# With CAF_ROOT=/prefix of a CAF 0.17.6 built with the same sanitizer
# (doc/reliability.md, "Sanitizers", says how), ark links that CAF instead of
# Debian's uninstrumented one, builds in build-<mode>-caf/, and the
# suppressions for uninstrumented CAF (scripts/tsan.supp) are not used.
#
# Everything is instrumented: the libraries, ark-host, the example modules and
# clients, ark-dash and the test executables; the ark-host processes the tests
# start inherit the options set here. Exits non-zero when a test fails, when
# any process printed a sanitizer report, or when no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

mode=${1:-}
shift || true
case "$mode" in
  asan) sanitize="address,undefined"; dir=build-asan ;;
  tsan) sanitize="thread"; dir=build-tsan ;;
  *)
    echo "usage: $0 asan|tsan [ctest args...]" >&2
    exit 2
    ;;
esac

caf_args=()
tsan_supp="$root/scripts/tsan.supp"
if [ -n "${CAF_ROOT:-}" ]; then
  if [ ! -f "$CAF_ROOT/include/caf/config.hpp" ]; then
    echo "sanitize: CAF_ROOT=$CAF_ROOT holds no include/caf/config.hpp" >&2
    exit 2
  fi
  caf_args=(-DCAF_ROOT="$CAF_ROOT")
  dir="$dir-caf"
  tsan_supp="$root/scripts/tsan-instrumented-caf.supp"
fi

# Debug at -Og: asserts stay on, and the sanitized code still runs at a
# usable speed. -Og compiles far faster than -O1 with sanitizers
# (tests/actors/sdk_test.cpp: 75 s against 128 s with ASan+UBSan on a 2-core
# VM), which is most of CI's time. -g1 (line tables) is what the reports
# need to name file:line, and compiles far faster than -g. The test
# executables get the same -Og (ARK_TESTS_OPT).
cmake -S . -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER=g++ -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-Og ${ARK_SANITIZE_DEBUG_INFO:--g1}" -DARK_SANITIZE="$sanitize" \
  -DARK_TESTS_OPT=-Og \
  "${caf_args[@]}"
cmake --build "$dir" -j 2

# Sanitizer exit codes that no ark program uses, so a report is never mistaken
# for an expected failure exit.
asan_exit=86
tsan_exit=66
common="halt_on_error=1:print_summary=1:symbolize=1"
export ASAN_OPTIONS="$common:exitcode=$asan_exit:abort_on_error=0:detect_leaks=1"
ASAN_OPTIONS+=":detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
ASAN_OPTIONS+=":suppressions=$root/scripts/asan.supp"
# tests/host/fault_host_test.cpp starts ark-host with LD_PRELOAD=libark_fault_env.so
# (itself built with ASan): the ASan runtime then is not the first library,
# which is fine because the preloaded library is instrumented too.
ASAN_OPTIONS+=":verify_asan_link_order=0"
export LSAN_OPTIONS="exitcode=$asan_exit:suppressions=$root/scripts/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="$common:exitcode=$asan_exit:print_stacktrace=1"
# libcaf_core/libcaf_io and liblmdb are not instrumented: their calls into
# intercepted functions (new/delete, memcpy) are not race candidates.
export TSAN_OPTIONS="$common:exitcode=$tsan_exit:second_deadlock_stack=1:ignore_noninstrumented_modules=1"
TSAN_OPTIONS+=":suppressions=$tsan_supp:print_suppressions=0"

total=$(ctest --test-dir "$dir" -N "$@" | sed -n 's/^Total Tests: *\([0-9]*\).*/\1/p')
if [ -z "$total" ] || [ "$total" -eq 0 ]; then
  echo "sanitize: ctest found no tests in $dir; refusing to pass" >&2
  exit 1
fi
echo "sanitize: $mode: $total tests"

status=0
ctest --test-dir "$dir" --output-on-failure --no-tests=error -j2 "$@" || status=$?

# A report in a test's output that did not fail the test (e.g. printed by a
# child whose exit nobody checked) still fails the run.
log="$dir/Testing/Temporary/LastTest.log"
pattern='ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error: '
pattern+='|SUMMARY: (Address|Leak|Thread|UndefinedBehavior)Sanitizer'
if [ -f "$log" ] && grep -Eq "$pattern" "$log"; then
  echo "sanitize: sanitizer reports in $log:" >&2
  grep -m 20 -En "$pattern" "$log" >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "sanitize: $mode: FAILED" >&2
  exit "$status"
fi
echo "sanitize: $mode: all $total tests passed, no sanitizer reports"
