#!/usr/bin/env bash
# Usage: capture_output.sh --socket NAME --session NAME --out FILE [--lines N]
#
# Writes the session's pane (visible screen plus N lines of history, default 2000, wrapped lines
# joined) to FILE atomically: a temp file in FILE's directory, then mv.
# Exit: 0 ok, 1 no such session or capture failed, 2 bad arguments.
set -euo pipefail

prog=${0##*/}
self=$0  # called through symlinks: follow them (plain readlink: BSD has no readlink -f)
while [[ -L $self ]]; do l=$(readlink -- "$self"); [[ $l == /* || $self != */* ]] || l=${self%/*}/$l; self=$l; done
here=.; [[ $self != */* ]] || here=${self%/*}
# shellcheck source=../lib/common.sh
. "$here/../lib/common.sh"  # die, q, need and the other shared helpers

socket='' session='' out='' lines=2000
while [ $# -gt 0 ]; do
  case $1 in
    --socket) need $# "$1" "${2-}"; socket=$2; shift 2 ;;
    --session) need $# "$1" "${2-}"; session=$2; shift 2 ;;
    --out) need $# "$1" "${2-}"; out=$2; shift 2 ;;
    --lines) need $# "$1" "${2-}"; lines=$2; shift 2 ;;
    -h|--help) sed -n '2,6s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die 2 "unknown argument: $(q "$1")" ;;
  esac
done
# A file name in tmux's socket directory (so not '.' or '..').
[[ $socket =~ ^[A-Za-z0-9_.-]+$ && $socket != . && $socket != .. ]] \
  || die 2 "invalid --socket: $(q "$socket")"
# hatchdoit.tmux.session_name's rule: [A-Za-z0-9_-] only ('.' and ':' are tmux target
# separators), and no leading '-' (it reads as an option).
[[ $session =~ ^[A-Za-z0-9_][A-Za-z0-9_-]*$ ]] || die 2 "invalid --session: $(q "$session")"
[ -n "$out" ] || die 2 "--out is required"
[[ $lines =~ ^[0-9]{1,7}$ ]] || die 2 "invalid --lines: $(q "$lines")"

[[ $out == /* ]] || out=$PWD/$out
temp_beside "$out" || die 1 "cannot create a temp file beside $(q "$out")"
trap 'rm -f -- "$tmp"' EXIT
if ! tmux -L "$socket" -f /dev/null capture-pane -p -J -S "-$lines" -t "=$session:" >"$tmp" \
     2>/dev/null; then
  die 1 "no session $session on socket $socket (or capture-pane failed)"
fi
trap - EXIT
commit_temp "$out" || die 1 "cannot write $(q "$out")"
