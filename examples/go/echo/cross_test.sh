#!/bin/sh
# cross_test.sh SERVER CLIENT N -- starts `SERVER serve 0`, reads the port
# from its first line (through a FIFO: no polling), runs
# `CLIENT client 127.0.0.1 PORT N`, stops the server. Exits with the
# client's status. SERVER and CLIENT are any two echo examples (weft-echo,
# weft-echo-go, ...): they share arguments and output lines.
set -eu
server=$1
client=$2
n=$3
dir=$(mktemp -d)
mkfifo "$dir/out"
"$server" serve 0 >"$dir/out" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
exec 3<"$dir/out"
IFS= read -r line <&3 || { echo "server printed nothing" >&2; exit 1; }
echo "$(basename "$server") $line"
port=${line##*:}
printf '%s -> %s: ' "$(basename "$client")" "$(basename "$server")"
"$client" client 127.0.0.1 "$port" "$n"
