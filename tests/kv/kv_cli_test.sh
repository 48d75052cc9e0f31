#!/usr/bin/env bash
# Drives weft-kv with real clients and compares every reply with redis-server's.
#   kv_cli_test.sh WEFT_KV LOOPS MODE
# MODE: cli    -- tests/kv/cases.txt through redis-cli (one session), and the raw
#                 protocol cases of proto_cases.txt (each on its own connection),
#                 byte for byte against a redis-server started here;
#       bench  -- a short redis-benchmark run (every test of -t, -P 1 and -P 16),
#                 which must answer every request;
#       stall  -- a client that sends requests and never reads is disconnected.
# Servers listen on 127.0.0.1 with a free port, and are stopped on exit.
# Exit 77 (skipped) when redis-server or redis-cli is missing.
set -uo pipefail
KV=$1 LOOPS=$2 MODE=$3
HERE=$(cd "$(dirname "$0")" && pwd)
for t in redis-cli redis-benchmark; do
  command -v $t >/dev/null || { echo "SKIP: $t missing (scripts/deps installs it)"; exit 77; }
done
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  [ -s "$WORK/kv.err" ] && { echo "--- weft-kv's stderr:"; tail -50 "$WORK/kv.err"; }
  exit 1
}

# weft-kv on port 0: read the port from its first line (bounded wait).
start_kv() {  # extra args...
  exec {kvfd}< <(exec "$KV" --port 0 --loops "$LOOPS" "$@" 2>"$WORK/kv.err")
  PIDS+=($!)
  local line=""
  read -r -t 20 -u "$kvfd" line || fail "weft-kv printed no first line: $(cat "$WORK/kv.err")"
  [[ $line =~ ^listening\ on\ 127\.0\.0\.1:([0-9]+)$ ]] || fail "first line: '$line'"
  KVPORT=${BASH_REMATCH[1]}
}

start_redis() {
  command -v redis-server >/dev/null || { echo "SKIP: redis-server missing"; exit 77; }
  local tries
  for tries in 1 2 3 4 5; do
    RPORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no \
      --dir "$WORK" --logfile "$WORK/redis.log" --daemonize no &
    local pid=$!
    PIDS+=($pid)
    local i
    for i in $(seq 100); do
      redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG && return 0
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
  done
  fail "redis-server did not start: $(tail -3 "$WORK/redis.log")"
}

# Sends printf format $2 to port $1 on a fresh connection; prints every byte
# received until the server closes (at most 10 s).
raw() {
  local port=$1 fmt=$2
  exec {sfd}<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf -- "$fmt" >&$sfd
  timeout 10 cat <&$sfd | od -An -c
  exec {sfd}>&-
}

case $MODE in
cli)
  start_kv
  start_redis
  timeout 60 redis-cli -p "$RPORT" --no-raw < "$HERE/cases.txt" > "$WORK/ref.txt" 2>&1
  timeout 60 redis-cli -p "$KVPORT" --no-raw < "$HERE/cases.txt" > "$WORK/kv.txt" 2>&1
  [ "$(wc -l < "$WORK/ref.txt")" -gt 100 ] || fail "redis-server's answers are missing"
  diff -u "$WORK/ref.txt" "$WORK/kv.txt" || fail "replies differ from redis-server's (- redis, + weft-kv)"
  n=0
  while IFS= read -r fmt; do
    [[ -z $fmt || $fmt == \#* ]] && continue
    n=$((n + 1))
    want=$(raw "$RPORT" "$fmt")
    got=$(raw "$KVPORT" "$fmt")
    [ "$want" == "$got" ] || fail "raw case $n '$fmt': redis-server:
$want
weft-kv:
$got"
  done < "$HERE/proto_cases.txt"
  # An unterminated inline request longer than 64 KiB, and a bulk count line as long.
  big=$(head -c 70000 /dev/zero | tr '\0' a)
  for fmt in "$big" "*1\r\n\$$big"; do
    want=$(raw "$RPORT" "$fmt"); got=$(raw "$KVPORT" "$fmt")
    [ "$want" == "$got" ] || fail "long line: redis-server: $want / weft-kv: $got"
  done
  # COMMAND, COMMAND DOCS and CONFIG GET answer what redis-cli needs.
  redis-cli -p "$KVPORT" COMMAND DOCS >/dev/null || fail "COMMAND DOCS"
  [ "$(redis-cli -p "$KVPORT" COMMAND COUNT)" -gt 20 ] || fail "COMMAND COUNT"
  # Active expiry: a key nobody reads again disappears from DBSIZE.
  redis-cli -p "$KVPORT" FLUSHALL >/dev/null
  redis-cli -p "$KVPORT" SET gone v PX 1 >/dev/null
  for i in $(seq 200); do
    [ "$(redis-cli -p "$KVPORT" DBSIZE)" == 0 ] && break
    sleep 0.05
  done
  [ "$(redis-cli -p "$KVPORT" DBSIZE)" == 0 ] || fail "an expired key was not removed actively"
  [ -n "$(raw "$KVPORT" "*1\r\n\$4\r\nQUIT\r\n")" ] || fail "raw() sees nothing"
  echo "ok: $(wc -l < "$HERE/cases.txt") redis-cli cases and $n raw cases as redis-server (loops $LOOPS)"
  ;;
bench)
  start_kv
  for p in 1 16; do
    out=$(timeout 120 redis-benchmark -p "$KVPORT" -c 20 -n 4000 -P $p -r 1000 -q \
      -t ping,set,get,incr,mset 2>&1) || fail "redis-benchmark -P $p: $out"
    echo "$out" | tr '\r' '\n' | grep "requests per second" | tail -n 20
    for t in PING_INLINE PING_MBULK SET GET INCR "MSET (10 keys)"; do
      echo "$out" | tr '\r' '\n' | grep -q "^$t: .*requests per second" || fail "no result for $t (-P $p)"
    done
  done
  # Every SET and MSET key landed on some shard: DBSIZE sums them all.
  [ "$(redis-cli -p "$KVPORT" DBSIZE)" -gt 0 ] || fail "DBSIZE after the benchmark"
  ;;
stall)
  start_kv --send-stall-ms 300
  # GETs of a 1 MB value, pipelined, never read: the kernel buffers fill,
  # the server stops receiving and drops the client after 300 ms of no
  # progress, and goes on serving others.
  head -c 1000000 /dev/zero | tr '\0' v > "$WORK/val"
  redis-cli -p "$KVPORT" -x SET big < "$WORK/val" >/dev/null
  exec {sfd}<>"/dev/tcp/127.0.0.1/$KVPORT"
  req=$(printf '*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n%.0s' $(seq 200))
  # Writing may block once the server stops reading; do it in the background.
  ( printf '%s' "$req" >&$sfd ) 2>/dev/null &
  writer=$!
  dropped=0
  for i in $(seq 200); do  # up to ~20 s
    # The connection count seen by the server's side of the socket: once
    # dropped, the client's reads drain and then see end of stream.
    if ! ss -tn state established "( sport = :$KVPORT )" 2>/dev/null | grep -q ":$KVPORT"; then
      dropped=1; break
    fi
    sleep 0.1
  done
  kill $writer 2>/dev/null; wait $writer 2>/dev/null
  exec {sfd}>&-
  [ $dropped == 1 ] || fail "a client that never reads was not disconnected"
  [ "$(redis-cli -p "$KVPORT" PING)" == PONG ] || fail "server unusable after dropping a client"
  echo "ok: a client that never reads was dropped"
  ;;
*) fail "unknown mode $MODE" ;;
esac
kill -0 "${PIDS[0]}" 2>/dev/null || fail "weft-kv is gone"
[ -s "$WORK/kv.err" ] && fail "weft-kv wrote to stderr"
exit 0
