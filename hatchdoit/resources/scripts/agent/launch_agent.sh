#!/usr/bin/env bash
# Usage: launch_agent.sh --role factory|qa [--env-file FILE] [--readonly PATH]...
#                        [--confine-with WORD]... --worktree DIR --worktrees-root ROOT -- ARGV...
#
# Runs inside the agent's tmux pane: cd DIR, run ARGV as a child, and when it ends write
# $HATCHDOIT_EXIT_FILE atomically as {"exit_code": N, "at": "<UTC time>", "role": "ROLE"}
# (the variable must be set; empty means no exit file). SIGTERM, SIGHUP and SIGINT are forwarded
# to the child so the exit file is still written. Exits with the child's exit code.
# With --env-file, ARGV gets exactly the environment of FILE (NUL-separated NAME=VALUE entries,
# a regular file of this user, deleted once read) and of the pane's terminal (TERM, TMUX, ...,
# set by tmux): nothing of the tmux server's environment, and no value on a command line. Run
# it as `bash -p launch_agent.sh` then, so that no BASH_ENV or function of the server's
# environment runs before it starts over. With --readonly, ARGV runs under
# ../mount/readonly_view.sh: each PATH is read-only for it and its children. With --confine-with,
# ARGV runs as WORD... ARGV: the sandbox's command (srt --settings FILE --), so that this script,
# which writes the exit file, stays outside it.
# Exit codes of its own: 2 bad arguments, 4 refused (DIR outside ROOT).
set -euo pipefail

prog=${0##*/}
self=$0  # called through symlinks: follow them (plain readlink: BSD has no readlink -f)
while [[ -L $self ]]; do l=$(readlink -- "$self"); [[ $l == /* || $self != */* ]] || l=${self%/*}/$l; self=$l; done
here=.; [[ $self != */* ]] || here=${self%/*}
# shellcheck source=../lib/common.sh
. "$here/../lib/common.sh"  # die, q, need and the other shared helpers

args=("$@")
role='' worktree='' root='' env_file='' clean=0
readonly_paths=() confine=() terminal=()
while [ $# -gt 0 ]; do
  case $1 in
    --readonly) need $# "$1" "${2-}"; readonly_paths+=(--path "$2"); shift 2 ;;
    --confine-with) need $# "$1" "${2-}"; confine+=("$2"); shift 2 ;;
    --env-file) need $# "$1" "${2-}"; env_file=$2; shift 2 ;;
    --clean) clean=1; shift ;;  # internal: this run started over from an empty environment
    --terminal) need $# "$1" "${2-}"; terminal+=("$2"); shift 2 ;;  # internal: NAME=VALUE of it
    --role) need $# "$1" "${2-}"; [ -z "$role" ] || die 2 "--role given twice"; role=$2; shift 2 ;;
    --worktree) need $# "$1" "${2-}"; worktree=$2; shift 2 ;;
    --worktrees-root) need $# "$1" "${2-}"; root=$2; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,20s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die 2 "unknown argument: $(q "$1") (the command goes after --)" ;;
  esac
done
[[ $role == factory || $role == qa ]] || die 2 "--role must be factory or qa, not $(q "$role")"
[ -n "$worktree" ] || die 2 "--worktree is required"
[ -n "$root" ] || die 2 "--worktrees-root is required"
[ -n "${1-}" ] || die 2 "missing command after --"
[[ $1 != *=* ]] || die 2 "command name may not contain '=': $(q "$1")"
if [ -n "$env_file" ]; then
  [[ -f $env_file && ! -L $env_file && -O $env_file ]] \
    || die 2 "--env-file must be a regular file of this user: $(q "$env_file")"
  terminal_names=' TERM TERM_PROGRAM TERM_PROGRAM_VERSION TMUX TMUX_PANE '
  if [ "$clean" = 0 ]; then
    # Start over from an empty environment (bash's exec -c: no `env` program) but for the
    # pane's terminal, which tmux describes: handed over as arguments, exported below.
    pane=()
    for name in $terminal_names; do
      [ -z "${!name+set}" ] || pane+=(--terminal "$name=${!name}")
    done
    exec -c "$BASH" -p "$self" --clean ${pane[@]+"${pane[@]}"} "${args[@]}"
  fi
  for kv in ${terminal[@]+"${terminal[@]}"}; do
    [[ $terminal_names == *" ${kv%%=*} "* && $kv == *=* ]] \
      || die 2 "--terminal: not a terminal variable: $(q "${kv%%=*}")"
    export "${kv?}"
  done
  entries=()
  while IFS= read -r -d '' kv; do entries+=("$kv"); done <"$env_file"
  for kv in ${entries[@]+"${entries[@]}"}; do
    # The name only: the value may be a secret.
    [[ ${kv%%=*} =~ ^[A-Za-z_][A-Za-z0-9_]*$ && $kv == *=* ]] \
      || die 2 "--env-file: invalid entry $(q "${kv%%=*}"): expected NAME=VALUE"
    export "${kv?}"
  done
  rm -f -- "$env_file" || die 1 "cannot delete --env-file $(q "$env_file")"
fi
[ -n "${HATCHDOIT_EXIT_FILE+set}" ] || die 2 "HATCHDOIT_EXIT_FILE must be set (empty: no exit file)"
exit_file=${HATCHDOIT_EXIT_FILE}

under_root "$root" "$worktree"  # sets root_abs, wt
[ -d "$wt" ] || die 2 "worktree is not a directory: $(q "$wt")"
[[ -z $exit_file || $exit_file == /* ]] || exit_file=$PWD/$exit_file  # before the cd below

# A script started in the background by another one inherits an ignored SIGINT, which no trap
# can undo and the agent would inherit too; give the agent the default back. `trap -p` shows a
# signal ignored on entry as '': only then is env asked (two programs) and put before the agent.
# BSD's env (macOS) has no --default-signal: perl, which macOS ships, resets them there.
runner=()
if [ -n "$(trap -p INT QUIT)" ]; then
  if env --default-signal=INT true 2>/dev/null; then
    runner=(env "--default-signal=INT,QUIT" --)
  elif command -v perl >/dev/null; then
    runner=(perl -e '$SIG{INT} = $SIG{QUIT} = "DEFAULT"; exec {$ARGV[0]} @ARGV or die "$ARGV[0]: $!\n"' --)
  fi
fi
if [ ${#readonly_paths[@]} -gt 0 ]; then
  runner+=("$here/../mount/readonly_view.sh" "${readonly_paths[@]}" --)
fi
runner+=(${confine[@]+"${confine[@]}"})

child='' pending=''
# shellcheck disable=SC2317  # invoked by the traps below
forward() {
  if [ -n "$child" ]; then kill "-$1" "$child" 2>/dev/null || true; else pending=$1; fi
}
trap 'forward TERM' TERM
trap 'forward HUP' HUP
trap 'forward INT' INT

# The agent's status must not come from the `wait` builtin: when a trapped signal lands just as
# `wait` reaps the child, bash drops the status (wait says 128+N, a second wait says -1), and
# Ctrl-C or a hangup reaches this shell and the agent at the same moment. So a reporter runs the
# agent in the foreground, where bash holds its traps until the agent ends and keeps the status,
# and writes two lines on a pipe: the agent's pid, then its exit status.
cd -- "$wt"
exec {out}>&1
exec {report}< <(
  trap : HUP INT TERM  # outlive the signals that end the agent; trapped ones reset in the agent
  if ( printf '%s\n' "$BASHPID"; exec ${runner[@]+"${runner[@]}"} "$@" >&"$out" {out}>&- ); then
    printf '0\n'
  else
    printf '%s\n' "$?"
  fi
)
reporter=$!
exec {out}>&-

# read_report VAR: the next line of the report; fails at its end. In posix mode a trapped signal
# makes read return 128+N before any input, so read again.
read_report() {
  local status
  while :; do
    if read -r -u "$report" "$1"; then return 0; else status=$?; fi
    [ "$status" -gt 128 ] || return 1
  done
}
rc=''
if read_report child; then
  [ -z "$pending" ] || forward "$pending"
  read_report rc || rc=''
fi
if [ -z "$rc" ]; then
  # The reporter itself was killed (SIGKILL): its own status is all there is to report.
  if wait "$reporter"; then rc=0; else rc=$?; fi
fi

write_exit_file() {
  local now text
  TZ=UTC0 printf -v now '%(%Y-%m-%dT%H:%M:%SZ)T' -1
  printf -v text '{"exit_code": %d, "at": "%s", "role": "%s"}\n' "$rc" "$now" "$role"
  write_atomic "$exit_file" "$text"
}
if [ -n "$exit_file" ]; then
  write_exit_file || printf '%s: error: could not write %s\n' "$prog" "$(q "$exit_file")" >&2
fi
exit "$rc"
