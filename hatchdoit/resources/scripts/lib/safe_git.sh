# Sourced by the scripts under scripts/git/, never run: their `git` runs no program an agent could
# plant in a repository it writes (a TaskSpec's clone; hatchdoit/run/safe_git.py does the same for
# hatchdoit's own git): no hook, no fsmonitor, no pager, editor or signing program, and no
# filter, diff or merge driver the repo's own config names (the user's global or system setting
# of the same key, git-lfs's filter say, is kept).
# shellcheck shell=bash

# `KEY=VALUE` overrides (NUL-terminated) for the drivers of the repository `git ARGS` runs in (-C DIR).
planted_drivers() {
  local dir=. prev='' arg scope entry key value
  for arg in "$@"; do
    if [ "$prev" = -C ]; then dir=$arg; fi
    prev=$arg
  done
  while IFS= read -r -d '' scope && IFS= read -r -d '' entry; do
    case $scope in local|worktree) ;; *) continue ;; esac
    key=${entry%%$'\n'*}
    if value=$(command git config --global --get "$key" 2>/dev/null) \
      || value=$(command git config --system --get "$key" 2>/dev/null); then
      printf '%s=%s\0' "$key" "$value"
    else
      case ${key##*.} in
        required|driver) printf '%s=false\0' "$key" ;;
        *) printf '%s=\0' "$key" ;;
      esac
    fi
  done < <(command git -C "$dir" config --show-scope --null --get-regexp \
    '^(filter|diff|merge)\..+\.(clean|smudge|process|required|command|textconv|driver)$' \
    2>/dev/null || true)
}

# Sets git_cmd to the subcommand of `git ARGS` (its first word after the -C/-c options).
git_command() {
  git_cmd=''
  while [ $# -gt 0 ]; do
    case $1 in
      -C|-c) [ $# -ge 2 ] || return 0; shift 2 ;;
      -*) shift ;;
      *) git_cmd=$1; return 0 ;;
    esac
  done
}

git() {
  local args=(-c core.fsmonitor=false -c core.hooksPath=/dev/null/no-hooks -c core.pager=cat
              -c core.editor=true -c sequence.editor=true -c diff.external=
              -c commit.gpgSign=false -c tag.gpgSign=false -c gpg.program=false
              -c diff.ignoreSubmodules=all -c submodule.recurse=false -c status.submoduleSummary=false)
  local item
  # Commands that never read file contents through attributes need no driver overrides, and
  # so no `git config` program first (run/safe_git.py's NO_DRIVERS).
  local git_cmd
  git_command "$@"
  case $git_cmd in
    rev-parse|show-ref|cat-file|merge-base|symbolic-ref|update-ref|for-each-ref|rev-list|\
    commit-tree|var|config) ;;
    *) while IFS= read -r -d '' item; do
         args+=(-c "$item")
       done < <(planted_drivers "$@") ;;
  esac
  # a repository of its own at an absolute -C DIR (a TaskSpec's clone) is named outright: a
  # core.worktree planted in its config cannot lead git elsewhere
  local dir='' prev='' arg
  for arg in "$@"; do
    if [ "$prev" = -C ]; then dir=$arg; fi
    prev=$arg
  done
  if [[ $dir == /* ]] && [ -d "$dir/.git" ] && [ ! -L "$dir/.git" ]; then
    args+=("--git-dir=$dir/.git" "--work-tree=$dir")
  fi
  GIT_PAGER=cat GIT_EDITOR=true GIT_TERMINAL_PROMPT=0 command git "${args[@]}" "$@"
}
