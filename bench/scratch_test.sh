#!/usr/bin/env bash
# ctest bench/scratch-keeps-what-was-there: `ark-bench --scratch DIR` works in
# a subdirectory it creates and removes only that. DIR already holds a
# sentinel file, which must survive the run; no ark-bench-* directory may be
# left behind.
#   scratch_test.sh PATH/TO/ark-bench
set -euo pipefail
bench=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "keep me" >"$dir/sentinel"
mkdir "$dir/user-data"
echo "mine" >"$dir/user-data/file"

# The smallest real workload: the disk baselines of a quick run.
out=$("$bench" --quick --only disk --scratch "$dir" 2>&1) || {
  echo "$out"
  echo "FAIL: ark-bench exited non-zero"
  exit 1
}
echo "$out"
fail=0
if [ ! -d "$dir" ]; then
  echo "FAIL: ark-bench removed the --scratch directory $dir itself"
  fail=1
else
  [ "$(cat "$dir/sentinel" 2>/dev/null)" = "keep me" ] || { echo "FAIL: $dir/sentinel is gone"; fail=1; }
  [ "$(cat "$dir/user-data/file" 2>/dev/null)" = "mine" ] ||
    { echo "FAIL: $dir/user-data/file is gone"; fail=1; }
  left=$(find "$dir" -mindepth 1 -maxdepth 1 -name 'ark-bench-*')
  [ -z "$left" ] || { echo "FAIL: ark-bench left $left behind"; fail=1; }
fi
# It worked in a subdirectory of DIR, not in DIR itself.
grep -Eq "scratch $dir/ark-bench-[A-Za-z0-9]{6}\$" <<<"$out" ||
  { echo "FAIL: the run's scratch directory is not a fresh $dir/ark-bench-XXXXXX"; fail=1; }
exit $fail
