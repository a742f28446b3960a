# Sourced by the scripts under scripts/, never run: the helpers they share. The sourcing script
# sets `prog` (its name in error messages) first.
# shellcheck shell=bash

die() { local code=$1; shift; printf '%s: error: %s\n' "$prog" "$*" >&2; exit "$code"; }
q() { printf '%q' "$1"; }  # a value from outside, quoted: no raw newline or escape
need() { if [ "$1" -lt 2 ] || [ -z "$3" ]; then die 2 "$2 needs a non-empty value"; fi; }

# Writing a file atomically, with builtins but mv (some of these run for every agent session):
#   temp_beside FILE   sets `tmp` to a new empty file in FILE's directory (made if missing),
#                      created exclusively (noclobber) with the umask's mode; status 1 if not
#                      (silently, as commit_temp: the caller says it in one line)
#   ...write "$tmp"...
#   commit_temp FILE   renames it over FILE (never into FILE when FILE is a directory: -T);
#                      on failure removes it, status 1
temp_beside() {
  local dir=.
  [[ $1 != */* ]] || dir=${1%/*}
  dir=${dir:-/}
  [ -d "$dir" ] || mkdir -p -- "$dir" 2>/dev/null || return 1
  tmp="$dir/.${1##*/}.$$.$RANDOM"
  (set -C; : >"$tmp") 2>/dev/null
}
commit_temp() {
  mv -fT -- "$tmp" "$1" 2>/dev/null && return 0
  rm -f -- "$tmp"
  return 1
}
