#!/usr/bin/env bash
# Usage: marker_hook.sh ready|submitted
# Called by an agent CLI's hooks (Claude Code: SessionStart -> ready, UserPromptSubmit ->
# submitted). Drains the hook payload on stdin, then writes the session's marker atomically:
#   ready      $HATCHDOIT_READY_FILE gets "1"
#   submitted  $HATCHDOIT_SUBMITTED_FILE gets the number of prompts submitted so far (+1)
# Prints nothing on stdout (Claude Code would add it to the conversation).
# Exit codes: 0 written, 2 bad arguments or environment, 1 could not write.
set -euo pipefail

prog=${0##*/}
self=$0  # called through symlinks: follow them (plain readlink: BSD has no readlink -f)
while [[ -L $self ]]; do l=$(readlink -- "$self"); [[ $l == /* || $self != */* ]] || l=${self%/*}/$l; self=$l; done
here=.; [[ $self != */* ]] || here=${self%/*}
# shellcheck source=../lib/common.sh
. "$here/../lib/common.sh"  # die, q, need and the other shared helpers

[ $# -eq 1 ] || die 2 "expected one argument: ready|submitted"
case $1 in
  ready) var=HATCHDOIT_READY_FILE ;;
  submitted) var=HATCHDOIT_SUBMITTED_FILE ;;
  -h|--help) sed -n '2,8s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) die 2 "unknown marker $(q "$1") (ready|submitted)" ;;
esac
file=${!var:-}
[ -n "$file" ] || die 2 "$var is not set (run by hatchdoit's agent session only)"
[[ $file == /* ]] || die 2 "$var must be an absolute path: $(q "$file")"
[ -t 0 ] || cat >/dev/null

value=1
if [ "$1" = submitted ] && [ -f "$file" ]; then
  count=$(head -c 32 -- "$file" | tr -dc '0-9')
  value=$(( 10#${count:-0} + 1 ))
fi
write_atomic "$file" "$value"$'\n' || die 1 "cannot write $(q "$file")"
