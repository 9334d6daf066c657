#!/usr/bin/env bash
# ctest install/template-against-installed-ark (label "install"):
#
#   1. cmake --install BUILD --prefix TMP/prefix        (the build must be complete)
#   2. checks the installed tree: programs, libraries with sonames, headers,
#      CMake package, ark.pc, RUNPATHs that point into the prefix and never
#      at the build tree
#   3. copies templates/module to TMP/src and builds it out of tree against
#      TMP/prefix only (CMAKE_PREFIX_PATH, package registries off), checks
#      that find_package(ark) took the prefix's package, runs its unit test
#   4. starts the INSTALLED TMP/prefix/bin/ark-host with the template's module
#      on TMP/data and a free port, checks that host and module share one
#      libark_actors.so from the prefix, calls it twice from the template's
#      client (state persists), restarts the host, calls again
#   5. a pkg-config consumer: compiles and runs a program with
#      `pkg-config --cflags --libs ark` from the prefix
#
# Everything it makes lives under one mktemp -d directory, removed at exit;
# the host it started is stopped (SIGTERM, then SIGKILL) at exit.
#
#   install_test.sh BUILD_DIR TEMPLATE_DIR CMAKE CTEST GENERATOR CXX_COMPILER WITH_BENCH [CAF_ROOT]
set -euo pipefail

build=$1
template=$2
cmake=$3
ctest=$4
generator=$5
cxx=$6
with_bench=$7
caf_root=${8:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ark-install-test.XXXXXX")
prefix=$tmp/prefix
host_pid=
cleanup() {
  if [ -n "$host_pid" ] && kill -0 "$host_pid" 2>/dev/null; then
    kill -TERM "$host_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$host_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$host_pid" 2>/dev/null || true
    wait "$host_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() { echo "== $*"; }

# Nothing from the caller's environment may point find_package elsewhere.
unset CMAKE_PREFIX_PATH ark_DIR ark_ROOT ARK_ROOT PKG_CONFIG_PATH

step "install $build to $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; fail "cmake --install failed (is the build complete?)"; }

step "check the installed tree"
programs=(ark-host ark-dash)
[ "$with_bench" = ON ] && programs+=(ark-bench)
for p in "${programs[@]}"; do
  [ -x "$prefix/bin/$p" ] || fail "bin/$p is not installed"
done
libdir=$(dirname "$(find "$prefix" -name 'libark_actors.so' | head -1)")
[ -n "$libdir" ] && [ -d "$libdir" ] || fail "libark_actors.so is not installed"
for l in kv actors runtime testing; do
  so=$libdir/libark_$l.so
  [ -L "$so" ] || fail "$so (the development symlink) is missing"
  soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  [ -n "$soname" ] && [ -e "$libdir/$soname" ] || fail "$so: soname '$soname' not installed"
done
for h in ark/actor.hpp ark/registry.hpp ark/client.hpp ark/client_cli.hpp ark/testing.hpp \
         ark/kv/store.hpp ark/errors.hpp ark/expected.hpp; do
  [ -f "$prefix/include/$h" ] || fail "include/$h is not installed"
done
[ ! -e "$prefix/include/ark/kv/testing/fault_env.hpp" ] ||
  fail "fault_env.hpp is installed without its library"
cmakedir=$libdir/cmake/ark
for f in ark-config.cmake ark-config-version.cmake ark-targets.cmake ArkModule.cmake FindCAF.cmake; do
  [ -f "$cmakedir/$f" ] || fail "$cmakedir/$f is not installed"
done
[ -f "$libdir/pkgconfig/ark.pc" ] || fail "lib/pkgconfig/ark.pc is not installed"
ls "$libdir/ark/modules/libark_counter.so" >/dev/null || fail "the example modules are not installed"
# Nothing installed may lead back to the build tree.
build_abs=$(cd "$build" && pwd -P)
if grep -rl --binary-files=text -F "$build_abs" "$cmakedir" "$libdir/pkgconfig"; then
  fail "the installed CMake package or ark.pc names the build tree $build_abs"
fi
for f in "${programs[@]/#/$prefix/bin/}" "$libdir"/libark_*.so; do
  runpath=$(readelf -d "$f" | sed -n 's/.*(\(RUNPATH\|RPATH\)).*\[\(.*\)\]/\2/p')
  case "$runpath" in
    *"$build_abs"*) fail "$f has the build tree in its RUNPATH: $runpath" ;;
    *'$ORIGIN'*) ;;
    *) fail "$f has no \$ORIGIN-relative RUNPATH (got '$runpath')" ;;
  esac
done
# ark-host resolves ark's libraries from the prefix.
ldd "$prefix/bin/ark-host" >"$tmp/ldd.txt"
libdir_real=$(realpath "$libdir")
for l in kv actors runtime; do
  path=$(sed -n "s/^[[:space:]]*libark_$l\.so[^ ]* => \([^ ]*\) .*/\1/p" "$tmp/ldd.txt")
  [ -n "$path" ] && [ "$(dirname "$(realpath "$path")")" = "$libdir_real" ] ||
    { cat "$tmp/ldd.txt"; fail "installed ark-host does not load libark_$l from $libdir"; }
done
"$prefix/bin/ark-host" --help >/dev/null || fail "installed ark-host --help failed"
"$prefix/bin/ark-dash" --help >/dev/null || fail "installed ark-dash --help failed"

step "build templates/module against $prefix only"
cp -r "$template" "$tmp/src"
caf_args=()
[ -n "$caf_root" ] && caf_args=(-DCAF_ROOT="$caf_root")
"$cmake" -S "$tmp/src" -B "$tmp/build" -G "$generator" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O0 \
  -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
  "${caf_args[@]}" >"$tmp/configure.log" 2>&1 ||
  { cat "$tmp/configure.log"; fail "configuring the template failed"; }
found=$(sed -n 's/^ark_DIR:PATH=//p' "$tmp/build/CMakeCache.txt")
[ "$found" = "$cmakedir" ] || fail "find_package(ark) took '$found', not $cmakedir"
"$cmake" --build "$tmp/build" -j 2 >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log"; fail "building the template failed"; }
module=$tmp/build/modules/libtally.so
client=$tmp/build/tally-client
[ -f "$module" ] || fail "the template's module $module was not built"

step "the template's unit test"
"$ctest" --test-dir "$tmp/build" --output-on-failure || fail "the template's unit test failed"

log=$tmp/host.log
port=
start_host() {
  "$prefix/bin/ark-host" --data "$tmp/data" --port 0 --module "$module" >"$log" 2>&1 &
  host_pid=$!
  for _ in $(seq 300); do
    if grep -q '^ark-host ready' "$log"; then
      grep '^ark-host ready' "$log"
      port=$(grep -o 'port=[0-9]*' "$log" | head -1 | cut -d= -f2)
      return
    fi
    kill -0 "$host_pid" 2>/dev/null || { cat "$log"; fail "installed ark-host exited"; }
    sleep 0.1
  done
  cat "$log"
  fail "installed ark-host did not get ready in 30 s"
}
stop_host() {
  kill -TERM "$host_pid"
  local status=0
  wait "$host_pid" || status=$?
  host_pid=
  [ "$status" -eq 0 ] || { cat "$log"; fail "ark-host exited $status on SIGTERM"; }
}
expect() {  # expect WANT ARGS...: runs the client, compares its output
  local want=$1
  shift
  local got
  got=$("$client" --port "$port" "$@" 2>&1) || fail "tally-client $*: $got"
  echo "tally-client $* -> $got"
  [ "$got" = "$want" ] || fail "tally-client $*: expected '$want', got '$got'"
}

step "run the module in the installed ark-host"
start_host
# One registry: the host and the module it loaded map the same
# libark_actors.so, the prefix's.
maps=$(grep -o '/[^ ]*libark_actors\.so[^ ]*' "/proc/$host_pid/maps" | sort -u)
[ "$(echo "$maps" | wc -l)" -eq 1 ] && [ "$(dirname "$maps")" = "$libdir_real" ] ||
  fail "ark-host maps libark_actors from: $maps (want exactly one, under $libdir)"
grep -q "$module" "/proc/$host_pid/maps" || fail "ark-host did not load $module"
expect "lunch pizza = 2" add lunch pizza 2
expect "lunch pizza = 5" add lunch pizza 3
expect "lunch soup = 1" add lunch soup
expect "lunch total = 6" total lunch

step "restart the installed ark-host: the state survived"
stop_host
start_host
expect "lunch pizza = 5" count lunch pizza
expect "lunch pizza = 6" add lunch pizza 1
expect "lunch total = 7" total lunch
# Several calls in one message (ark::call_many), from the installed headers.
expect "$(printf 'lunch soup = 2\nlunch salad = 1')" vote lunch soup salad
expect "lunch total = 9" total lunch
stop_host

step "a pkg-config consumer"
export PKG_CONFIG_PATH=$libdir/pkgconfig
pc_flags=$(pkg-config --cflags --libs ark) || fail "pkg-config --cflags --libs ark failed"
echo "pkg-config: $pc_flags"
[ "$(pkg-config --modversion ark)" = "$(sed -n 's/^Version: //p' "$libdir/pkgconfig/ark.pc")" ] ||
  fail "pkg-config --modversion ark"
cat >"$tmp/pc_user.cpp" <<'CPP'
#include <iostream>
#include <ark/kv/key.hpp>
int main() {
  ark::key k{"user", 42};
  std::cout << k.to_string() << '\n';
  return 0;
}
CPP
# shellcheck disable=SC2086  # pkg-config's output is a list of flags
"$cxx" -std=c++17 -o "$tmp/pc_user" "$tmp/pc_user.cpp" $pc_flags -Wl,-rpath,"$libdir" ||
  fail "compiling and linking with pkg-config's flags failed"
out=$("$tmp/pc_user") || fail "the pkg-config consumer failed to run"
echo "pc_user -> $out"
[ "$out" = '["user", 42]' ] || fail "the pkg-config consumer printed '$out'"

echo "PASS: installed ark serves the template's module; the template builds and tests against it"
