#!/bin/sh
# run_fuzz.sh FUZZER SEEDS WORKDIR SECONDS [libFuzzer options...]
# Fuzzes for SECONDS from a fresh copy of the seed corpus in WORKDIR/corpus;
# a crash is saved as WORKDIR/crash-* and fails the run. Prints the number
# of C-API operations executed (the harness's own count).
set -eu
fuzzer=$1 seeds=$2 work=$3 secs=$4
shift 4
rm -rf "$work/corpus"
mkdir -p "$work/corpus"
cp "$seeds"/* "$work/corpus/"
exec "$fuzzer" -max_total_time="$secs" -timeout=30 -rss_limit_mb=4096 -max_len=4096 \
  -print_final_stats=1 -artifact_prefix="$work/" "$@" "$work/corpus"
