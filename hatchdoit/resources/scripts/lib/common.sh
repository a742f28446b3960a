# Sourced by the scripts under scripts/, never run: the helpers they share. The sourcing script
# sets `prog` (its name in error messages) first.
# shellcheck shell=bash

die() { local code=$1; shift; printf '%s: error: %s\n' "$prog" "$*" >&2; exit "$code"; }

# bash_too_old [MAJOR MINOR]: status 0 when this bash (or the version given) is older than 4.2,
# which the scripts need ({fd} redirections, $BASHPID, printf %(...)T). Sourced before any such
# line runs, so an older bash stops here with one line: macOS's /bin/bash is 3.2, and the
# scripts run the first bash on PATH (#!/usr/bin/env bash), Homebrew's once it is installed.
bash_too_old() {
  local major=${1:-${BASH_VERSINFO[0]}} minor=${2:-${BASH_VERSINFO[1]}}
  [ "$major" -lt 4 ] || { [ "$major" -eq 4 ] && [ "$minor" -lt 2 ]; }
}
if bash_too_old; then
  die 2 "needs bash 4.2 or newer, not $BASH_VERSION ($BASH); put a newer bash first on PATH" \
        "(macOS: brew install bash)"
fi
q() { printf '%q' "$1"; }  # a value from outside, quoted: no raw newline or escape
need() { if [ "$1" -lt 2 ] || [ -z "$3" ]; then die 2 "$2 needs a non-empty value"; fi; }

# check_id ID: exit 2 unless ID is a TaskSpec id that git takes in refs/heads/taskspec/ID (the
# rule of hatchdoit's check_id; tests/test_properties_ids.py holds the two to agreement).
check_id() {
  local id=$1
  [[ $id =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$ && $id != *..* && $id != *. && $id != *.lock ]] || die 2 "invalid id: $(q "$id")"
}

# resolve PATH: PATH with symlinks resolved, as `realpath -m` prints it. Through the cd and pwd
# builtins when PATH is a directory, or does not exist in one (the agent and worktree scripts run
# for every session); by walk for the rest (a symlink, a file, a missing parent, . or ..).
resolve() {
  local dir name=${1##*/}
  if [ -d "$1" ]; then
    (CDPATH='' cd -P -- "$1" && pwd -P)
  elif [[ $1 == */* && $name != '' && $name != . && $name != .. ]] && [ ! -e "$1" ] \
       && [ ! -L "$1" ] && [ -d "${1%/*}/" ]; then
    dir=$(CDPATH='' cd -P -- "${1%/*}/" && pwd -P) || return 1
    printf '%s/%s\n' "${dir%/}" "$name"
  else
    walk "$1"
  fi
}

# walk PATH: what `realpath -m` prints (GNU only), component by component: a symlink is
# replaced by its target (at most 40 of them), . and .. apply to what is resolved so far, and
# missing components are kept as they are.
walk() {
  local rest=$1 out='' comp link hops=0
  [[ $rest == /* ]] || rest=$(pwd -P)/$rest
  while [ -n "$rest" ]; do
    comp=${rest%%/*}
    if [[ $rest == */* ]]; then rest=${rest#*/}; else rest=''; fi
    case $comp in
      ''|.) continue ;;
      ..) out=${out%/*}; continue ;;
    esac
    if [ -L "$out/$comp" ]; then
      hops=$((hops + 1))
      [ "$hops" -le 40 ] || return 1
      link=$(readlink -- "$out/$comp") || return 1
      [[ $link != /* ]] || out=''
      rest=$link/$rest
    else
      out=$out/$comp
    fi
  done
  printf '%s\n' "${out:-/}"
}

# under_root ROOT PATH: sets root_abs and wt to ROOT and PATH resolved; exit 4 unless PATH lies
# strictly inside ROOT (a symlink or .. cannot lead a worktree elsewhere).
under_root() {
  root_abs=$(resolve "$1")
  wt=$(resolve "$2")
  [[ $wt/ == "$root_abs"/?* ]] || die 4 "$(q "$2") resolves outside $(q "$root_abs"): $(q "$wt")"
}

# registered_branch REPO PATH: prints the branch ref (or "detached") of the worktree of REPO
# registered at PATH (resolved); status 1 when none is.
registered_branch() {
  local list line path=''
  list=$(git -C "$1" worktree list --porcelain) || die 1 "git worktree list failed in $(q "$1")"
  while IFS= read -r line; do
    case $line in
      "worktree "*) path=$(resolve "${line#worktree }") ;;
      "branch "*) [ "$path" != "$2" ] || { printf '%s\n' "${line#branch }"; return 0; } ;;
      detached) [ "$path" != "$2" ] || { echo detached; return 0; } ;;
    esac
  done <<<"$list"
  return 1
}

# clone_of REPO DIR: status 0 when DIR is a repository of its own (a `.git` directory) whose
# alternates name REPO's objects directory: the clone per TaskSpec create_worktree.sh makes.
clone_of() {
  local objects line
  [ -d "$2/.git" ] && [ ! -L "$2/.git" ] && [ -f "$2/.git/objects/info/alternates" ] || return 1
  objects=$(git -C "$1" rev-parse --path-format=absolute --git-path objects) || return 1
  objects=$(resolve "$objects")
  while IFS= read -r line; do
    [ -n "$line" ] && [ "$(resolve "$line")" = "$objects" ] && return 0
  done <"$2/.git/objects/info/alternates"
  return 1
}

# Writing a file atomically, with builtins but mv (some of these run for every agent session):
#   temp_beside FILE   sets `tmp` to a new empty file in FILE's directory (made if missing),
#                      created exclusively (noclobber) with the umask's mode; status 1 if not
#                      (silently, as commit_temp: the caller says it in one line)
#   ...write "$tmp"...
#   commit_temp FILE   renames it over FILE (never into FILE when FILE is a directory: BSD mv
#                      has no -T, so a directory there is refused first); on failure removes
#                      it, status 1
# or, for a text known in advance, write_atomic FILE TEXT (TEXT as is: end it with the newline).
temp_beside() {
  local dir=.
  [[ $1 != */* ]] || dir=${1%/*}
  dir=${dir:-/}
  [ -d "$dir" ] || mkdir -p -- "$dir" 2>/dev/null || return 1
  tmp="$dir/.${1##*/}.$$.$RANDOM"
  (set -C; : >"$tmp") 2>/dev/null
}
commit_temp() {
  if [ ! -d "$1" ] && mv -f -- "$tmp" "$1" 2>/dev/null; then return 0; fi
  rm -f -- "$tmp"
  return 1
}
write_atomic() {
  local tmp
  temp_beside "$1" || return 1
  printf '%s' "$2" >"$tmp" || { rm -f -- "$tmp"; return 1; }
  commit_temp "$1"
}
