#!/usr/bin/env bash
# Usage: remove_worktree.sh --repo REPO --worktrees-root ROOT --id ID [--force] [--delete-branch]
#                           [--keep PATHSPEC]...
#
# Removes the git worktree ROOT/ID of REPO and prunes stale worktree records; with
# --delete-branch also deletes branch taskspec/ID. A missing ROOT/ID is not an error (idempotent).
# --keep: exclude pathspecs of what may be left and goes with it (copied files, a setup's .venv).
# Exit: 0 ok, 1 git failed, 2 bad arguments,
#       4 refused (not a registered worktree of REPO, outside ROOT, or dirty without --force).
set -euo pipefail

prog=${0##*/}
self=$0  # called through symlinks: follow them (plain readlink: BSD has no readlink -f)
while [[ -L $self ]]; do l=$(readlink -- "$self"); [[ $l == /* || $self != */* ]] || l=${self%/*}/$l; self=$l; done
here=.; [[ $self != */* ]] || here=${self%/*}
# shellcheck source=../lib/common.sh
. "$here/../lib/common.sh"  # die, q, need and the other shared helpers
# shellcheck source=../lib/safe_git.sh
. "$here/../lib/safe_git.sh"  # git: runs no hook or program planted in the repo's config

repo='' root='' id='' force=0 delete_branch=0 keep=()
while [ $# -gt 0 ]; do
  case $1 in
    --repo) need $# "$1" "${2-}"; repo=$2; shift 2 ;;
    --worktrees-root) need $# "$1" "${2-}"; root=$2; shift 2 ;;
    --id) need $# "$1" "${2-}"; id=$2; shift 2 ;;
    --force) force=1; shift ;;
    --delete-branch) delete_branch=1; shift ;;
    --keep) need $# "$1" "${2-}"; keep+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die 2 "unknown argument: $(q "$1")" ;;
  esac
done
[ -n "$repo" ] || die 2 "--repo is required"
[ -n "$root" ] || die 2 "--worktrees-root is required"
[ -n "$id" ] || die 2 "--id is required"
check_id "$id"
git -C "$repo" rev-parse --git-dir >/dev/null 2>&1 || die 2 "not a git repository: $(q "$repo")"

branch="taskspec/$id"
under_root "$root" "$root/$id"  # sets root_abs, wt

delete_branch_if_asked() {
  if [ "$delete_branch" = 1 ] && git -C "$repo" show-ref --verify --quiet "refs/heads/$branch"; then
    git -C "$repo" branch -D -- "$branch" >&2 || die 1 "git branch -D $(q "$branch") failed"
  fi
}

if [ ! -e "$wt" ] && [ ! -L "$wt" ]; then
  git -C "$repo" worktree prune >&2 || die 1 "git worktree prune failed in $(q "$repo")"
  delete_branch_if_asked
  exit 0
fi
registered_branch "$repo" "$wt" >/dev/null \
  || die 4 "$(q "$wt") is not a registered worktree of $(q "$repo"); not removing it"
if [ "$force" = 0 ]; then
  dirty=$(git -C "$wt" status --porcelain -- . ${keep[@]+"${keep[@]}"}) \
    || die 1 "git status failed in $(q "$wt")"
  [ -z "$dirty" ] || die 4 "$(q "$wt") has uncommitted changes; not removing it (use --force)"
  [ ${#keep[@]} = 0 ] || force=1  # what is left is what may go with it: git would refuse it
fi
if [ "$force" = 1 ]; then
  git -C "$repo" worktree remove --force -- "$wt" >&2 \
    || die 1 "git worktree remove failed for $(q "$wt")"
else
  git -C "$repo" worktree remove -- "$wt" >&2 || die 1 "git worktree remove failed for $(q "$wt")"
fi
git -C "$repo" worktree prune >&2 || die 1 "git worktree prune failed in $(q "$repo")"
delete_branch_if_asked
