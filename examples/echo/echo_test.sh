#!/bin/sh
# echo_test.sh BIN N -- starts `BIN serve 0`, reads the port from its first
# line (through a FIFO: no polling), runs `BIN client 127.0.0.1 PORT N`,
# stops the server. Exits with the client's status.
set -eu
bin=$1
n=$2
dir=$(mktemp -d)
mkfifo "$dir/out"
"$bin" serve 0 >"$dir/out" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
exec 3<"$dir/out"
IFS= read -r line <&3 || { echo "server printed nothing" >&2; exit 1; }
echo "$line"
port=${line##*:}
"$bin" client 127.0.0.1 "$port" "$n"
