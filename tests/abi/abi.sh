#!/bin/sh
# abi.sh -- weft's ABI guard (libabigail).
#
#   tests/abi/abi.sh check  LIB [SRCDIR]   compare LIB with the baseline
#   tests/abi/abi.sh update LIB [SRCDIR]   (re)write the baseline from LIB
#
# LIB is a libweft.so.MAJOR built with debug info (-g; the default
# RelWithDebInfo build has it). The baseline is tests/abi/<SONAME>.abi, so a
# MAJOR bump needs a new baseline on purpose (see tests/abi/README.md).
#
# Only the public ABI is recorded and compared: the functions exported by
# the version script and the types weft.h declares (--headers-dir
# capi/include --drop-private-types --exported-interfaces-only); weft_loop_t
# stays opaque (weft.abignore). Build paths are left out of the baseline.
#
# check exits 0 when nothing changed or the only change is functions added
# (then it says to update the baseline), 1 on any other change (a removed or
# changed function, a changed type) or an error.
set -eu
mode=${1:?usage: abi.sh check|update LIB [SRCDIR]}
lib=${2:?usage: abi.sh check|update LIB [SRCDIR]}
src=${3:-$(cd "$(dirname "$0")/../.." && pwd)}
here="$src/tests/abi"
headers="$src/capi/include"
suppr="$here/weft.abignore"

soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[ -n "$soname" ] || { echo "abi.sh: $lib has no SONAME" >&2; exit 1; }
baseline="$here/$soname.abi"
readelf -S "$lib" | grep -q '\.debug_info' ||
  { echo "abi.sh: $lib has no debug info; build it with -g (RelWithDebInfo)" >&2; exit 1; }

case "$mode" in
update)
  tmp=$(mktemp)
  abidw --no-corpus-path --no-comp-dir-path --no-show-locs --no-elf-needed \
    --type-id-style hash --headers-dir "$headers" --drop-private-types \
    --exported-interfaces-only --suppr "$suppr" --out-file "$tmp" "$lib"
  # The translation unit's path is the only build path left: make it
  # relative to the source tree.
  sed "s|path='$src/|path='|" "$tmp" > "$baseline"
  rm -f "$tmp"
  echo "abi.sh: wrote $baseline ($(grep -c '<function-decl' "$baseline") functions)"
  ;;
check)
  if [ ! -f "$baseline" ]; then
    echo "abi.sh: no baseline $baseline for SONAME $soname." >&2
    echo "  A new MAJOR needs a new baseline: tests/abi/abi.sh update $lib" >&2
    exit 1
  fi
  # The baseline holds only public types already; reading the library
  # with --headers-dir/--drop-private-types too would filter out changes
  # to them (the baseline carries no source locations to match).
  diff_opts="--no-show-locs --exported-interfaces-only --suppr $suppr --fail-no-debug-info"
  set +e
  # First without added functions: anything left is a change to what was
  # there (abidiff sets bit 4 for a struct's layout as for an addition, and
  # bit 8 for a removed symbol).
  abidiff $diff_opts --no-added-syms "$baseline" "$lib" > /dev/null 2>&1
  rc_changed=$?
  abidiff $diff_opts "$baseline" "$lib"
  rc=$?
  set -e
  if [ $((rc & 3)) -ne 0 ] || [ $((rc_changed & 3)) -ne 0 ]; then
    echo "abi.sh: abidiff failed (status $rc)" >&2
    exit 1
  fi
  if [ $((rc_changed & 12)) -ne 0 ]; then
    echo "abi.sh: INCOMPATIBLE change to the ABI of $soname (above)." >&2
    echo "  Undo it, or bump the MAJOR version (a new SONAME) and write a baseline for it:" >&2
    echo "  see tests/abi/README.md." >&2
    exit 1
  fi
  if [ $((rc & 4)) -ne 0 ]; then
    echo "abi.sh: compatible ABI change (functions added, above): bump the MINOR version and" >&2
    echo "  update the baseline: tests/abi/abi.sh update $lib" >&2
    exit 0
  fi
  echo "abi.sh: $soname matches $baseline"
  ;;
*)
  echo "usage: abi.sh check|update LIB [SRCDIR]" >&2
  exit 2
  ;;
esac
