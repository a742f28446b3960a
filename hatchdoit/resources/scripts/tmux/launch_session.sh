#!/usr/bin/env bash
# Usage: launch_session.sh --socket NAME --session NAME --cwd DIR [--option @NAME=VALUE]...
#                          [--log FILE] [--width N --height N] -- ARGV...
#
# Starts a detached tmux session on the private socket NAME (tmux -L NAME -f /dev/null) running
# ARGV directly, without a shell. The same tmux call sets the session's user options (--option,
# e.g. the run token hatchdoit tags its sessions with), keeps a dead pane for inspection
# (remain-on-exit) and, with --log, appends the pane's output to FILE. Prints the session name.
# tmux runs with only PATH, HOME, the locale and TMUX_TMPDIR of this environment: a server it
# starts holds no credential of the build, and passes none on. No value goes on the command line
# of tmux for the session's environment: ARGV makes its own (launch_agent.sh --env-file).
# Exit: 0 ok, 1 tmux failed or the session exists already, 2 bad arguments.
set -euo pipefail

prog=${0##*/}
self=$0  # called through symlinks: follow them (plain readlink: BSD has no readlink -f)
while [[ -L $self ]]; do l=$(readlink -- "$self"); [[ $l == /* || $self != */* ]] || l=${self%/*}/$l; self=$l; done
here=.; [[ $self != */* ]] || here=${self%/*}
# shellcheck source=../lib/common.sh
. "$here/../lib/common.sh"  # die, q, need and the other shared helpers

socket='' session='' cwd='' log='' width=200 height=50
options=()
while [ $# -gt 0 ]; do
  case $1 in
    --socket) need $# "$1" "${2-}"; socket=$2; shift 2 ;;
    --session) need $# "$1" "${2-}"; session=$2; shift 2 ;;
    --cwd) need $# "$1" "${2-}"; cwd=$2; shift 2 ;;
    --option) need $# "$1" "${2-}"; options+=("$2"); shift 2 ;;
    --log) need $# "$1" "${2-}"; log=$2; shift 2 ;;
    --width) need $# "$1" "${2-}"; width=$2; shift 2 ;;
    --height) need $# "$1" "${2-}"; height=$2; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die 2 "unknown argument: $(q "$1") (the command goes after --)" ;;
  esac
done
[ -n "${1-}" ] || die 2 "missing command after --"
[[ $1 != *=* ]] || die 2 "command name may not contain '=': $(q "$1")"
# A file name in tmux's socket directory (so not '.' or '..').
[[ $socket =~ ^[A-Za-z0-9_.-]+$ && $socket != . && $socket != .. ]] \
  || die 2 "invalid --socket: $(q "$socket")"
# hatchdoit.tmux.session_name's rule: [A-Za-z0-9_-] only ('.' and ':' are tmux target
# separators, and tmux renames a session with a '.'), and no leading '-' (it reads as an option).
[[ $session =~ ^[A-Za-z0-9_][A-Za-z0-9_-]*$ ]] || die 2 "invalid --session: $(q "$session")"
[ -n "$cwd" ] || die 2 "--cwd is required"
[ -d "$cwd" ] || die 2 "--cwd is not a directory: $(q "$cwd")"
[[ $width =~ ^[1-9][0-9]{0,3}$ ]] || die 2 "invalid --width: $(q "$width")"
[[ $height =~ ^[1-9][0-9]{0,3}$ ]] || die 2 "invalid --height: $(q "$height")"
for kv in ${options[@]+"${options[@]}"}; do
  [[ ${kv%%=*} =~ ^@[A-Za-z0-9_]+$ && $kv == *=* && $kv != *[[:cntrl:]]* ]] \
    || die 2 "invalid --option $(q "$kv"): expected @NAME=VALUE"
done

# Bash builtins where they do the job (this runs for every agent session); `cd` + `pwd -P`
# resolves the directory as realpath would.
cwd=$(CDPATH='' cd -- "$cwd" && pwd -P) || die 2 "--cwd is not a usable directory"
kept=(PATH="$PATH")
for name in HOME LANG LC_ALL LC_CTYPE TMUX_TMPDIR; do
  [ -z "${!name+set}" ] || kept+=("$name=${!name}")
done
cmd=(env -i "${kept[@]}" tmux -L "$socket" -f /dev/null
     new-session -d -s "$session" -c "$cwd" -x "$width" -y "$height")
# tmux hands a single-word command to a shell; "env --" keeps it an argv exec in every case.
[ $# -gt 1 ] || set -- env -- "$1"
cmd+=(-- "$@" ';' set-option -w -t "=$session:" remain-on-exit on)
for kv in ${options[@]+"${options[@]}"}; do
  cmd+=(';' set-option -t "=$session:" "${kv%%=*}" "${kv#*=}")
done
if [ -n "$log" ]; then
  [[ $log != *[[:cntrl:]]* ]] || die 2 "--log may not contain control characters"
  [[ $log == /* ]] || log=$PWD/$log
  [ -d "${log%/*}" ] || mkdir -p -- "${log%/*}"
  # pipe-pane takes a shell command; the path is quoted, never interpolated raw.
  cmd+=(';' pipe-pane -o -t "=$session:" "cat >> $(printf '%q' "$log")")
fi
# A server exits when its last session closes. A client that reaches it in that instant gets
# "server exited unexpectedly" and nothing was made: the next try starts a new server.
for try in 1 2 3; do
  if err=$("${cmd[@]}" 2>&1 >/dev/null); then
    printf '%s\n' "$session"
    exit 0
  fi
  [[ $err == *"server exited unexpectedly"* && $try -lt 3 ]] || break
done
[[ $err != *"duplicate session"* ]] || die 1 "session $session exists"
die 1 "tmux could not start session $session on socket $socket: ${err//[[:cntrl:]]/ }"
