#!/usr/bin/env bash
# The main job: starts ark-host with the example actors on the embedded
# default data directory (./ark-data), calls a counter actor from a separate
# client process, restarts the host, and shows the state survived.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./build/bin
data=${ARK_DATA:-./ark-data}
log=$(mktemp)
modules=()
for m in ./build/modules/libark_*.so; do
  case "$m" in */libark_test_*) continue ;; esac  # test modules are not examples
  modules+=(--module "$m")
done
host_pid=

start_host() {
  "$bin/ark-host" --data "$data" --port 0 "${modules[@]}" >"$log" 2>&1 &
  host_pid=$!
  for _ in $(seq 200); do
    if grep -q '^ark-host ready' "$log"; then
      grep '^ark-host ready' "$log"
      port=$(grep -o 'port=[0-9]*' "$log" | head -1 | cut -d= -f2)
      return
    fi
    if ! kill -0 "$host_pid" 2>/dev/null; then cat "$log"; exit 1; fi
    sleep 0.1
  done
  echo "ark-host did not start:"; cat "$log"; exit 1
}

stop_host() {
  if [ -n "$host_pid" ]; then
    kill -TERM "$host_pid" && wait "$host_pid" || true
    host_pid=
  fi
}
trap 'stop_host; rm -f "$log"' EXIT

echo "# start ark-host on $data with the example actors"
start_host
echo "# a client process adds 1 to counter 'demo' (the reply leaves once it is durable)"
"$bin/counter-client" --port "$port" add demo 1
echo "# restart the host"
stop_host
start_host
echo "# the counter kept its value across the restart"
"$bin/counter-client" --port "$port" get demo
