#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) into
# build-fuzz/ and runs each over its seed corpus, one after another.
#
#   scripts/fuzz.sh --time 10            # 10 s per target (CI)
#   scripts/fuzz.sh --runs 10000000      # 10M executions per target (local)
#   scripts/fuzz.sh --time 60 fuzz_key_decode   # only the named targets
#
# Exits non-zero when a target crashes, leaks, hits undefined behaviour,
# times out, or did not run (missing binary, no "Done" line, no executions).
# New inputs go to build-fuzz/corpus/<target>/ (tests/fuzz/corpus is only
# read); a crashing input is saved to build-fuzz/artifacts/<target>/ — fix
# the bug, then copy the input into tests/fuzz/corpus/<target>/ as
# crash-<what> so the corpus replay test (ctest -R fuzz/) keeps it fixed.
# Logs: build-fuzz/logs/<target>.log. Packages: scripts/setup.sh
# (libclang-rt-14-dev provides libFuzzer) and clang.
set -euo pipefail

usage() {
  sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

mode=""
amount=""
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --time | --runs)
      [ $# -ge 2 ] || usage
      mode="${1#--}"
      amount="$2"
      shift 2
      ;;
    -h | --help) usage ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; usage ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ -n "$mode" ] || usage
[[ "$amount" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --$mode needs a positive integer" >&2; exit 2; }

all_targets=(fuzz_key_decode fuzz_value_decode fuzz_snapshot_load fuzz_json_key fuzz_damaged_record)
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target $t" >&2; exit 2; }
done

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${ARK_FUZZ_BUILD_DIR:-$root/build-fuzz}"
cd "$root"

command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (apt-get install clang)" >&2; exit 1; }

echo "== configure + build ($build)"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DARK_FUZZ=ON -DARK_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target "${targets[@]}" -j "${JOBS:-2}"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:allocator_may_return_null=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

limit=()
if [ "$mode" = time ]; then
  limit=(-max_total_time="$amount")
else
  limit=(-runs="$amount")
fi

summary=()
failed=0
mkdir -p "$build/logs"
for t in "${targets[@]}"; do
  bin="$build/fuzz/$t"
  seeds="$root/tests/fuzz/corpus/$t"
  work="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  log="$build/logs/$t.log"
  mkdir -p "$work" "$artifacts"
  if [ ! -x "$bin" ] || [ -z "$(ls -A "$seeds" 2>/dev/null)" ]; then
    echo "fuzz.sh: $t: missing binary $bin or empty corpus $seeds" >&2
    summary+=("$t: DID NOT RUN")
    failed=1
    continue
  fi
  # Longest input: a stored key is at most 511 bytes and a JSON key is typed
  # by hand; values and journal records get more room. Shorter inputs run
  # faster, and nothing the targets check needs more.
  case "$t" in
    fuzz_key_decode | fuzz_json_key) max_len=1024 ;;
    *) max_len=2048 ;;
  esac
  echo "== $t (-$mode=$amount -max_len=$max_len)"
  start=$(date +%s)
  set +e
  "$bin" "${limit[@]}" -max_len="$max_len" -error_exitcode=77 -timeout=25 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "$seeds" >"$log" 2>&1
  rc=$?
  set -e
  secs=$(($(date +%s) - start))
  tail -n 25 "$log"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  done_line=$(grep -E '^Done [0-9]+ runs in' "$log" | tail -n 1 || true)
  last=$(grep -E '#[0-9]+.*(cov|ft):' "$log" | tail -n 1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  rate=$(sed -n 's/.* exec\/s: \([0-9]*\).*/\1/p' <<<"$last")
  status=ok
  if [ "$rc" -ne 0 ]; then
    status="FAILED (exit $rc, see $log and $artifacts/)"
  elif [ -z "$done_line" ] || [ -z "$execs" ] || [ "$execs" -le 0 ]; then
    status="DID NOT RUN (no executions reported, see $log)"
  elif [ "$mode" = runs ] && [ "$execs" -lt "$amount" ]; then
    status="INCOMPLETE ($execs of $amount runs)"
  fi
  [ "$status" = ok ] || failed=1
  summary+=("$t: $status; execs ${execs:-?} in ${secs}s (exec/s ${rate:-?}), cov ${cov:-?}, ft ${ft:-?}")
done

echo "== summary (-$mode=$amount)"
printf '%s\n' "${summary[@]}"
exit "$failed"
