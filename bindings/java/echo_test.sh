#!/bin/sh
# echo_test.sh "SERVER" "CLIENT" N -- starts `SERVER serve 0`, reads the port
# from its first line (through a FIFO: no polling), runs
# `CLIENT client 127.0.0.1 PORT N`, stops the server. SERVER and CLIENT are
# commands (split on spaces), e.g. the C weft-echo or
# "java -cp weft.jar dev.weft.examples.Echo". Exits with the client's status.
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
