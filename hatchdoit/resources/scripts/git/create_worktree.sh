#!/usr/bin/env bash
# Usage: create_worktree.sh --repo REPO --worktrees-root ROOT --id ID --base REF [--merge BRANCH]...
#                           [--restore COMMIT]
#
# Creates (or reuses) the git worktree ROOT/ID of REPO on branch taskspec/ID; a new branch
# starts at REF, or, with --restore, at COMMIT (a full commit id the caller's records name, for a
# branch that was lost). Then merges each --merge BRANCH (in order) that HEAD does not contain yet.
# Git's chatter goes to stderr; the last line of stdout is the worktree's absolute path.
# Exit: 0 ok, 1 git failed, 2 bad arguments, 3 merge conflict (merge aborted),
#       4 refused (ROOT/ID exists but is not our worktree, or resolves outside ROOT).
set -euo pipefail

prog=${0##*/}
self=$0  # called through symlinks: follow them (plain readlink: BSD has no readlink -f)
while [[ -L $self ]]; do l=$(readlink -- "$self"); [[ $l == /* || $self != */* ]] || l=${self%/*}/$l; self=$l; done
here=.; [[ $self != */* ]] || here=${self%/*}
# shellcheck source=../lib/common.sh
. "$here/../lib/common.sh"  # die, q, need and the other shared helpers
# shellcheck source=../lib/safe_git.sh
. "$here/../lib/safe_git.sh"  # git: runs no hook or program planted in the repo's config

repo='' root='' id='' base='' restore=''
merges=()
while [ $# -gt 0 ]; do
  case $1 in
    --repo) need $# "$1" "${2-}"; repo=$2; shift 2 ;;
    --worktrees-root) need $# "$1" "${2-}"; root=$2; shift 2 ;;
    --id) need $# "$1" "${2-}"; id=$2; shift 2 ;;
    --base) need $# "$1" "${2-}"; base=$2; shift 2 ;;
    --merge) need $# "$1" "${2-}"; merges+=("$2"); shift 2 ;;
    --restore) need $# "$1" "${2-}"; restore=$2; shift 2 ;;
    -h|--help) sed -n '2,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die 2 "unknown argument: $(q "$1")" ;;
  esac
done
[ -n "$repo" ] || die 2 "--repo is required"
[ -n "$root" ] || die 2 "--worktrees-root is required"
[ -n "$id" ] || die 2 "--id is required"
[ -n "$base" ] || die 2 "--base is required"
check_id "$id"
git -C "$repo" rev-parse --git-dir >/dev/null 2>&1 || die 2 "not a git repository: $(q "$repo")"
for ref in "$base" ${merges[@]+"${merges[@]}"}; do
  [[ $ref != -* ]] || die 2 "invalid ref: $(q "$ref")"
  git -C "$repo" rev-parse --verify --quiet --end-of-options "$ref^{commit}" >/dev/null \
    || die 2 "unknown ref: $(q "$ref")"
done
if [ -n "$restore" ]; then
  [[ $restore =~ ^[0-9a-f]{40}([0-9a-f]{24})?$ ]] \
    || die 2 "invalid --restore (a full commit id): $(q "$restore")"
  git -C "$repo" cat-file -e "$restore^{commit}" 2>/dev/null \
    || die 2 "unknown commit: $(q "$restore")"
fi

branch="taskspec/$id"
under_root "$root" "$root/$id"  # sets root_abs, wt

if [ -e "$wt" ] || [ -L "$wt" ]; then
  current=$(registered_branch "$repo" "$wt") \
    || die 4 "$(q "$wt") exists but is not a worktree of $(q "$repo")"
  [ "$current" = "refs/heads/$branch" ] \
    || die 4 "$(q "$wt") is a worktree of $(q "$repo") but on $(q "$current"), not $branch"
  if git -C "$wt" rev-parse --verify --quiet MERGE_HEAD >/dev/null; then
    die 4 "a merge is in progress in $(q "$wt") (fix: git -C $(q "$wt") merge --abort)"
  fi
else
  [ -d "$root_abs" ] || mkdir -p -- "$root_abs"
  git -C "$repo" worktree prune >&2 || die 1 "git worktree prune failed in $(q "$repo")"
  if git -C "$repo" show-ref --verify --quiet "refs/heads/$branch"; then
    git -C "$repo" worktree add -- "$wt" "$branch" >&2 \
      || die 1 "git worktree add failed for $(q "$wt")"
  elif [ -n "$restore" ]; then
    printf '%s: branch %s is missing: restoring it at %s\n' "$prog" "$branch" "$restore" >&2
    git -C "$repo" worktree add -b "$branch" -- "$wt" "$restore" >&2 \
      || die 1 "git worktree add failed for $(q "$wt")"
  else
    git -C "$repo" worktree add -b "$branch" -- "$wt" "$base" >&2 \
      || die 1 "git worktree add failed for $(q "$wt")"
  fi
fi

identity=()  # for merge commits only: asked only when there is something to merge
if [ ${#merges[@]} -gt 0 ] && [ -z "$(git -C "$wt" config user.email || true)" ]; then
  identity=(-c user.name=hatchdoit -c user.email=hatchdoit@localhost)
fi
for ref in ${merges[@]+"${merges[@]}"}; do
  if git -C "$wt" merge-base --is-ancestor "$ref" HEAD; then
    continue
  fi
  if ! git ${identity[@]+"${identity[@]}"} -C "$wt" merge --no-edit --no-ff "$ref" >&2; then
    conflicts=$(git -C "$wt" diff --name-only --diff-filter=U | tr '\n' ' ')
    if git -C "$wt" rev-parse --verify --quiet MERGE_HEAD >/dev/null; then
      git -C "$wt" merge --abort >&2 || true
    fi
    [ -n "$conflicts" ] || die 1 "git merge $(q "$ref") failed in $(q "$wt")"
    printf '%s: conflict merging %s: %s\n' "$prog" "$(q "$ref")" "${conflicts% }" >&2
    exit 3
  fi
done
printf '%s\n' "$wt"
