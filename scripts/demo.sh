#!/usr/bin/env bash
# Shows the storage core at work on the embedded default data directory
# (./ark-data): writes structured keys with ark-dash, lists them back in tuple
# order, and reads them again from a fresh process (everything is durable).
set -euo pipefail
cd "$(dirname "$0")/.."
dash=./build/tools/ark-dash/ark-dash
data=${ARK_DATA:-./ark-data}

echo "# writing a small leaderboard into space [\"demo\"] of $data"
"$dash" kv put --data "$data" --space demo '["score", -300, "carol"]' '{"points": 300}'
"$dash" kv put --data "$data" --space demo '["score", -120, "alice"]' '{"points": 120}'
"$dash" kv put --data "$data" --space demo '["score", -250, "bob"]'   '{"points": 250}'
"$dash" kv put --data "$data" --space demo '["user", "a/b"]' '"one element a/b"'
"$dash" kv put --data "$data" --space demo '["user", "a", "b"]' '"two elements a, b"'
"$dash" kv put --data "$data" --space demo --raw blob 00ff10

echo
echo "# top 2 scores (keys sort by -points, so the list is already ranked)"
"$dash" kv list --data "$data" --space demo --prefix '["score"]' --limit 2
echo
echo "# [\"user\",\"a/b\"] and [\"user\",\"a\",\"b\"] are different keys"
"$dash" kv list --data "$data" --space demo --prefix '["user"]'
echo
echo "# a raw value, and the hex encoding of a key"
"$dash" kv get --data "$data" --space demo blob
"$dash" key encode '["score", -300, "carol"]'
echo
echo "# keys in the space: $("$dash" kv count --data "$data" --space demo)"
