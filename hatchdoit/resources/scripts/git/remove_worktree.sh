#!/usr/bin/env bash
# Usage: remove_worktree.sh --repo REPO --worktrees-root ROOT --id ID [--force] [--delete-branch]
#                           [--keep PATHSPEC]...
#
# Removes ROOT/ID, the clone of REPO create_worktree.sh made (or an older version's linked
# worktree of REPO: `git worktree remove`, then stale worktree records pruned); with
# --delete-branch also deletes REPO's branch taskspec/ID. A missing ROOT/ID is not an error
# (idempotent). A clone holding commits no ref of REPO holds (on any of its branches or tags, its
# stash or HEAD) is refused without --force, as one with uncommitted changes is.
# --keep: exclude pathspecs of what may be left and goes with it (copied files, a setup's .venv).
# Exit: 0 ok, 1 git failed, 2 bad arguments,
#       4 refused (not REPO's clone or worktree, outside ROOT, or with work not in REPO and no
#         --force).
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
    -h|--help) sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 0 ;;
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
clone=0
if clone_of "$repo" "$wt"; then
  clone=1
else
  registered_branch "$repo" "$wt" >/dev/null \
    || die 4 "$(q "$wt") is neither a clone nor a registered worktree of $(q "$repo"); not removing it"
fi
if [ "$force" = 0 ]; then
  dirty=$(git -C "$wt" status --porcelain -- . ${keep[@]+"${keep[@]}"}) \
    || die 1 "git status failed in $(q "$wt")"
  [ -z "$dirty" ] || die 4 "$(q "$wt") has uncommitted changes; not removing it (use --force)"
  if [ "$clone" = 1 ]; then  # its HEAD, branches, tags and stash: what exists only there
    own=(HEAD --branches --tags)
    if git -C "$wt" rev-parse --verify --quiet refs/stash >/dev/null; then own+=(refs/stash); fi
    tips=()
    while IFS= read -r tip; do tips+=("$tip"); done < <(git -C "$repo" for-each-ref \
      --format='%(objectname)' refs/heads refs/tags refs/remotes refs/hatchdoit | sort -u)
    left=$(git -C "$wt" rev-list --count "${own[@]}" --not ${tips[@]+"${tips[@]}"}) \
      || die 1 "git rev-list failed in $(q "$wt")"
    [ "$left" = 0 ] || die 4 "$(q "$wt") has $left commit(s) $(q "$repo") lacks (its branches, stash or HEAD); not removing it (use --force)"
  fi
  [ ${#keep[@]} = 0 ] || force=1  # what is left is what may go with it: git would refuse it
fi
if [ "$clone" = 1 ]; then
  rm -rf -- "$wt" || die 1 "cannot remove $(q "$wt")"
elif [ "$force" = 1 ]; then
  git -C "$repo" worktree remove --force -- "$wt" >&2 \
    || die 1 "git worktree remove failed for $(q "$wt")"
else
  git -C "$repo" worktree remove -- "$wt" >&2 || die 1 "git worktree remove failed for $(q "$wt")"
fi
git -C "$repo" worktree prune >&2 || die 1 "git worktree prune failed in $(q "$repo")"
delete_branch_if_asked
