#!/bin/sh
# echo_pairs.sh N NAME=COMMAND... -- runs every client against every server
# among the given echo programs (weft-echo and its ports to the bindings: same
# arguments, same `listening on ADDR:PORT` and `echoed K/N in X ms` lines).
#
# For each pair it starts `SERVER serve 0` on 127.0.0.1, reads the port from
# the server's first line (through a FIFO: no polling), runs
# `CLIENT client 127.0.0.1 PORT N`, requires `echoed N/N` from it and stops
# the server. COMMAND is split on spaces, without globbing, e.g.
#   c=/build/examples/echo/weft-echo
#   java=/usr/bin/java -cp /build/.../weft-0.3.0.jar:/build/.../test-classes dev.weft.examples.Echo
# A program is skipped, and named as such, when COMMAND is empty (its binding
# is not built) or a word of it that starts with / names no file (not built
# yet). Everything is bounded: a server lives at most ECHO_PAIR_TIMEOUT
# seconds (default 120), a client at most that too.
#
# Prints one line per pair and a summary; exits 0 when every pair that ran
# echoed N/N and at least one ran, 1 otherwise.
set -eu
set -f
if [ $# -lt 2 ]; then
  echo "usage: echo_pairs.sh N NAME=COMMAND..." >&2
  exit 2
fi
n=$1
shift
limit=${ECHO_PAIR_TIMEOUT:-120}
dir=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The programs that can run, as lines NAME=COMMAND in $dir/programs.
: >"$dir/programs"
skipped=
for spec in "$@"; do
  name=${spec%%=*}
  cmd=${spec#*=}
  why=
  if [ -z "$cmd" ]; then
    why="not built"
  else
    for word in $cmd; do
      case $word in
        /*) for path in $(printf %s "$word" | tr : ' '); do # a class path: each entry
              [ -e "$path" ] || why="$path missing"
            done
            [ -z "$why" ] || break ;;
      esac
    done
  fi
  if [ -n "$why" ]; then
    echo "skipped: $name ($why)"
    skipped="$skipped $name"
  else
    echo "$name=$cmd" >>"$dir/programs"
  fi
done

# run_pair SNAME SCMD CNAME CCMD: 0 when the client echoed N/N.
run_pair() {
  rm -f "$dir/out"
  mkfifo "$dir/out"
  # shellcheck disable=SC2086 # commands are split on spaces on purpose
  timeout -k 5 "$limit" $2 serve 0 >"$dir/out" &
  pid=$!
  exec 3<"$dir/out"
  if ! IFS= read -r line <&3; then
    echo "client $3 -> server $1: FAILED: the server printed nothing"
    exec 3<&-
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=
    return 1
  fi
  port=${line##*:}
  status=0
  # shellcheck disable=SC2086
  result=$(timeout -k 5 "$limit" $4 client 127.0.0.1 "$port" "$n" 2>&1) || status=$?
  exec 3<&-
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=
  case $result in
    *"echoed $n/$n in"*)
      if [ "$status" -eq 0 ]; then
        echo "client $3 -> server $1: $(echo "$result" | grep "echoed $n/$n in")"
        return 0
      fi ;;
  esac
  echo "client $3 -> server $1: FAILED (client status $status): $result"
  return 1
}

ran=0
failed=0
while IFS= read -r server; do
  while IFS= read -r client; do
    ran=$((ran + 1))
    run_pair "${server%%=*}" "${server#*=}" "${client%%=*}" "${client#*=}" </dev/null ||
      failed=$((failed + 1))
  done <"$dir/programs"
done <"$dir/programs"

if [ "$ran" -eq 0 ]; then
  echo "echo pairs: FAILED: no program to run"
  exit 1
fi
if [ "$failed" -ne 0 ]; then
  echo "echo pairs: FAILED: $failed of $ran pairs"
  exit 1
fi
echo "echo pairs: $ran of $ran echoed $n/$n${skipped:+; skipped:$skipped}"
