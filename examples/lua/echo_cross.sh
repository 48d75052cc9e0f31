#!/bin/sh
# echo_cross.sh "SERVER" "CLIENT" N -- starts `SERVER serve 0` (a command,
# split on spaces: "lua5.4 echo.lua" or a weft-echo path), reads the port from
# its first line (through a FIFO: no polling), runs
# `CLIENT client 127.0.0.1 PORT N`, stops the server. Exits with the client's
# status. Any weft-echo-compatible server and client, in any language.
set -eu
server=$1
client=$2
n=$3
dir=$(mktemp -d)
mkfifo "$dir/out"
$server serve 0 >"$dir/out" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
exec 3<"$dir/out"
IFS= read -r line <&3 || { echo "server printed nothing" >&2; exit 1; }
echo "$line"
port=${line##*:}
$client client 127.0.0.1 "$port" "$n"
