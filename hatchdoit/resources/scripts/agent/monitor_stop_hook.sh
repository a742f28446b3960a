#!/usr/bin/env bash
# Usage: monitor_stop_hook.sh --file STOPFILE [--timeout SECONDS]   (SECONDS may be fractional)
#
# For operators: waits until STOPFILE exists (inotifywait when installed, else a 0.2 s poll),
# then prints its content. Stop files are written atomically, so existing means complete.
# Exit: 0 file appeared, 2 bad arguments, 124 timed out (default 3600 s).
set -euo pipefail

prog=${0##*/}
self=$0  # called through symlinks: follow them (plain readlink: BSD has no readlink -f)
while [[ -L $self ]]; do l=$(readlink -- "$self"); [[ $l == /* || $self != */* ]] || l=${self%/*}/$l; self=$l; done
here=.; [[ $self != */* ]] || here=${self%/*}
# shellcheck source=../lib/common.sh
. "$here/../lib/common.sh"  # die, q, need and the other shared helpers

file='' timeout=3600
while [ $# -gt 0 ]; do
  case $1 in
    --file) need $# "$1" "${2-}"; file=$2; shift 2 ;;
    --timeout) need $# "$1" "${2-}"; timeout=$2; shift 2 ;;
    -h|--help) sed -n '2,6s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die 2 "unknown argument: $(q "$1")" ;;
  esac
done
[ -n "$file" ] || die 2 "--file is required"
[[ $timeout =~ ^([0-9]{1,9})(\.([0-9]{1,6}))?$ ]] \
  || die 2 "invalid --timeout (seconds): $(q "$timeout")"
frac=${BASH_REMATCH[3]}000000
timeout_us=$(( 10#${BASH_REMATCH[1]} * 1000000 + 10#${frac:0:6} ))

now_us() {
  if [ -n "${EPOCHREALTIME-}" ]; then echo "${EPOCHREALTIME/[.,]/}"; else echo "$(date +%s)000000"; fi
}
dir=$(dirname -- "$file")
deadline=$(( $(now_us) + timeout_us ))
use_inotify=0
command -v inotifywait >/dev/null 2>&1 && use_inotify=1
while :; do
  if [ -f "$file" ]; then
    cat -- "$file"
    exit 0
  fi
  if [ "$(now_us)" -ge "$deadline" ]; then
    printf '%s: timed out after %s s waiting for %s\n' "$prog" "$timeout" "$(q "$file")" >&2
    exit 124
  fi
  if [ "$use_inotify" = 1 ] && [ -d "$dir" ]; then
    # Wake on any arrival in the directory; 1 s slices cover a file that came before the watch.
    inotifywait -qq -t 1 -e create -e moved_to -e close_write -- "$dir" 2>/dev/null || true
  else
    sleep 0.2
  fi
done
