#!/usr/bin/env bash
# Builds CAF 0.17.6 (the version Debian ships as libcaf-dev) with
# ThreadSanitizer, from Debian's source package, into a prefix, so that
# `CAF_ROOT=<prefix> bash scripts/sanitize.sh tsan` can run ark's suite with
# every CAF atomic and lock visible to TSan (doc/reliability.md, "Sanitizers").
#
#   bash scripts/build-caf-tsan.sh [PREFIX]    # default: build-caf-tsan/prefix
#
# Needs deb-src access to Debian's archive (added here if missing) and about
# 10 CPU-minutes. Only the upstream tarball is used: one missing include is
# patched, as Debian's own packaging does.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$PWD/build-caf-tsan"
prefix=${1:-$work/prefix}
mkdir -p "$work"
cd "$work"

if ! ls actor-framework_0.17.6.orig.tar.gz >/dev/null 2>&1; then
  if ! grep -rqs "deb-src" /etc/apt/sources.list /etc/apt/sources.list.d; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' |
      $sudo_cmd tee /etc/apt/sources.list.d/ark-deb-src.sources >/dev/null
    $sudo_cmd apt-get update -qq
  fi
  # The Debian packaging tarball may be gone from the mirror; the upstream
  # one is all this needs.
  apt-get source --download-only actor-framework=0.17.6-2.1 || true
  [ -f actor-framework_0.17.6.orig.tar.gz ] || {
    echo "build-caf-tsan: could not download actor-framework_0.17.6.orig.tar.gz" >&2
    exit 1
  }
fi
rm -rf actor-framework-0.17.6
tar xzf actor-framework_0.17.6.orig.tar.gz
src=actor-framework-0.17.6
# g++ 12 no longer pulls <limits> in through <memory>.
sed -i 's|#include <memory>|#include <memory>\n#include <limits>|' \
  "$src/libcaf_io/caf/io/network/receive_buffer.hpp"

cmake -S "$src" -B "$src/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=g++ -DCMAKE_C_COMPILER=gcc \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" \
  -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes -DCAF_NO_OPENCL=yes -DCAF_NO_PYTHON=yes \
  -DCAF_NO_TOOLS=yes -DCAF_NO_BENCHMARKS=yes -DCMAKE_INSTALL_PREFIX="$prefix"
cmake --build "$src/build" -j 2
cmake --install "$src/build"
echo "build-caf-tsan: installed in $prefix; now: CAF_ROOT=$prefix bash scripts/sanitize.sh tsan"
