#!/usr/bin/env bash
# Installs every system package ark needs to build, test and run, on Debian bookworm.
# Idempotent: packages already present are left alone; safe to run again.
set -euo pipefail

packages=(
  build-essential g++ cmake ninja-build pkg-config git
  libcaf-dev libssl-dev openssl liblmdb-dev lmdb-utils libsqlite3-dev sqlite3 libjemalloc-dev
  postgresql libpq-dev
  libmsgpack-cxx-dev libboost-dev doctest-dev libxxhash-dev
  libcli11-dev nlohmann-json3-dev libcpp-httplib-dev libfmt-dev libspdlog-dev
  libbenchmark-dev clang-format clang libclang-rt-14-dev
  chromium chromium-driver fonts-dejavu-core
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
