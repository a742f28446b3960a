#!/usr/bin/env bash
# Usage: launch_agent.sh --role factory|qa --worktree DIR --worktrees-root ROOT -- ARGV...
#
# Runs inside the agent's tmux pane: cd DIR, run ARGV as a child, and when it ends write
# $HATCHDOIT_EXIT_FILE atomically as {"exit_code": N, "at": "<UTC time>", "role": "ROLE"}
# (the variable must be set; empty means no exit file). SIGTERM, SIGHUP and SIGINT are forwarded
# to the child so the exit file is still written. Exits with the child's exit code.
# Exit codes of its own: 2 bad arguments, 4 refused (DIR outside ROOT).
set -euo pipefail

prog=${0##*/}
die() { local code=$1; shift; printf '%s: error: %s\n' "$prog" "$*" >&2; exit "$code"; }
need() { if [ "$1" -lt 2 ] || [ -z "$3" ]; then die 2 "$2 needs a non-empty value"; fi; }

role='' worktree='' root=''
while [ $# -gt 0 ]; do
  case $1 in
    --role) need $# "$1" "${2-}"; [ -z "$role" ] || die 2 "--role given twice"; role=$2; shift 2 ;;
    --worktree) need $# "$1" "${2-}"; worktree=$2; shift 2 ;;
    --worktrees-root) need $# "$1" "${2-}"; root=$2; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die 2 "unknown argument: $1 (the command goes after --)" ;;
  esac
done
[[ $role == factory || $role == qa ]] || die 2 "--role must be factory or qa, not '$role'"
[ -n "$worktree" ] || die 2 "--worktree is required"
[ -n "$root" ] || die 2 "--worktrees-root is required"
[ -n "${1-}" ] || die 2 "missing command after --"
[[ $1 != *=* ]] || die 2 "command name may not contain '=': $1"
[ -n "${HATCHDOIT_EXIT_FILE+set}" ] || die 2 "HATCHDOIT_EXIT_FILE must be set (empty: no exit file)"
exit_file=${HATCHDOIT_EXIT_FILE}

root_abs=$(realpath -m -- "$root")
wt=$(realpath -m -- "$worktree")
[[ $wt/ == "$root_abs"/?* ]] || die 4 "worktree $worktree resolves outside $root_abs: $wt"
[ -d "$wt" ] || die 2 "worktree is not a directory: $wt"
[ -z "$exit_file" ] || exit_file=$(realpath -m -- "$exit_file")

# Async children of a script inherit an ignored SIGINT; give the agent the default back.
runner=()
if env --default-signal=INT true 2>/dev/null; then
  runner=(env "--default-signal=INT,QUIT" --)
fi

child='' caught=0
# shellcheck disable=SC2317  # invoked by the traps below
forward() { caught=1; [ -z "$child" ] || kill "-$1" "$child" 2>/dev/null || true; }
trap 'forward TERM' TERM
trap 'forward HUP' HUP
trap 'forward INT' INT

cd -- "$wt"
# Explicit <&0: without it an async command's stdin would be /dev/null, not the pane.
${runner[@]+"${runner[@]}"} "$@" <&0 &
child=$!
rc=''
while :; do
  caught=0
  if wait "$child" 2>/dev/null; then status=0; else status=$?; fi
  # 127 after a signal means the status had already been collected: keep it.
  if [ "$status" = 127 ] && [ -n "$rc" ]; then break; fi
  rc=$status
  [ "$caught" = 1 ] || break
done

write_exit_file() {
  local dir tmp
  dir=$(dirname -- "$exit_file")
  mkdir -p -- "$dir" || return 1
  tmp=$(mktemp -- "$dir/.${exit_file##*/}.XXXXXX") || return 1
  if printf '{"exit_code": %d, "at": "%s", "role": "%s"}\n' \
       "$rc" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$role" >"$tmp" \
     && chmod "$(printf %04o $((0666 & ~0$(umask))))" -- "$tmp" \
     && mv -f -- "$tmp" "$exit_file"; then
    return 0
  fi
  rm -f -- "$tmp"
  return 1
}
if [ -n "$exit_file" ]; then
  write_exit_file || printf '%s: error: could not write %s\n' "$prog" "$exit_file" >&2
fi
exit "$rc"
