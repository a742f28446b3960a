#!/usr/bin/env bash
# Usage: create_worktree.sh --repo REPO --worktrees-root ROOT --id ID --base REF [--merge REF]...
#                           [--restore COMMIT]
#
# Creates (or reuses) ROOT/ID: a clone of REPO sharing its objects (`git clone --shared`: it
# reads REPO's objects through its alternates and writes only its own), on its own branch
# taskspec/ID. The branch starts where REPO's taskspec/ID is; else, with --restore, at COMMIT (a
# full commit id the caller's records name, for a branch that was lost); else at REF. REPO's
# taskspec/ID is made there when missing. Then each --merge REF (in order; resolved in REPO) that
# HEAD does not contain yet is merged, in the clone only: hatchdoit takes the clone's branch
# into REPO afterwards. An older version's linked worktree of REPO at ROOT/ID is reused as is.
# Git's chatter goes to stderr; the last line of stdout is the worktree's absolute path.
# Exit: 0 ok, 1 git failed, 2 bad arguments, 3 merge conflict (merge aborted),
#       4 refused (ROOT/ID exists but is not our clone or worktree, or resolves outside ROOT).
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
    -h|--help) sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die 2 "unknown argument: $(q "$1")" ;;
  esac
done
[ -n "$repo" ] || die 2 "--repo is required"
[ -n "$root" ] || die 2 "--worktrees-root is required"
[ -n "$id" ] || die 2 "--id is required"
[ -n "$base" ] || die 2 "--base is required"
check_id "$id"
git -C "$repo" rev-parse --git-dir >/dev/null 2>&1 || die 2 "not a git repository: $(q "$repo")"
# commit_of REF: the commit REPO resolves REF to (the clone has no such names); exit 2 if none
commit_of() {
  [[ $1 != -* ]] || die 2 "invalid ref: $(q "$1")"
  git -C "$repo" rev-parse --verify --quiet --end-of-options "$1^{commit}" \
    || die 2 "unknown ref: $(q "$1")"
}
base_commit=$(commit_of "$base")
commits=()
for ref in ${merges[@]+"${merges[@]}"}; do
  commits+=("$(commit_of "$ref")")
done
if [ -n "$restore" ]; then
  [[ $restore =~ ^[0-9a-f]{40}([0-9a-f]{24})?$ ]] \
    || die 2 "invalid --restore (a full commit id): $(q "$restore")"
  git -C "$repo" cat-file -e "$restore^{commit}" 2>/dev/null \
    || die 2 "unknown commit: $(q "$restore")"
fi

branch="taskspec/$id"
under_root "$root" "$root/$id"  # sets root_abs, wt
tip=$(git -C "$repo" rev-parse --verify --quiet "refs/heads/$branch^{commit}" || true)

if [ -e "$wt" ] || [ -L "$wt" ]; then
  if clone_of "$repo" "$wt"; then
    current=$(git -C "$wt" symbolic-ref -q HEAD || echo detached)
    [ "$current" = "refs/heads/$branch" ] \
      || die 4 "$(q "$wt") is a clone of $(q "$repo") but on $(q "$current"), not $branch"
    if [ -n "$tip" ] && [ "$(git -C "$wt" rev-parse HEAD)" != "$tip" ] \
      && git -C "$wt" merge-base --is-ancestor HEAD "$tip"; then
      # REPO's branch moved on (a person committed there): the clone follows, if it can
      git -C "$wt" merge --ff-only -q "$tip" >&2 \
        || printf '%s: %s stays behind %s: %s\n' "$prog" "$(q "$wt")" "$branch" "$tip" >&2
    fi
  else  # a linked worktree, as older versions made them
    current=$(registered_branch "$repo" "$wt") \
      || die 4 "$(q "$wt") exists but is neither a clone nor a worktree of $(q "$repo")"
    [ "$current" = "refs/heads/$branch" ] \
      || die 4 "$(q "$wt") is a worktree of $(q "$repo") but on $(q "$current"), not $branch"
  fi
  if git -C "$wt" rev-parse --verify --quiet MERGE_HEAD >/dev/null; then
    die 4 "a merge is in progress in $(q "$wt") (fix: git -C $(q "$wt") merge --abort)"
  fi
else
  if [ -n "$tip" ]; then
    start=$tip
  elif [ -n "$restore" ]; then
    printf '%s: branch %s is missing: restoring it at %s\n' "$prog" "$branch" "$restore" >&2
    start=$restore
  else
    start=$base_commit
  fi
  [ -d "$root_abs" ] || mkdir -p -- "$root_abs"
  made="$root_abs/.$id.cloning-$$"  # made whole beside ROOT/ID, then renamed: a kill leaves no half
  rm -rf -- "$made"
  git clone -q --shared --no-checkout --no-tags -- "$repo" "$made" >&2 \
    || die 1 "git clone failed for $(q "$wt")"
  git -C "$made" checkout -q -B "$branch" "$start" >&2 \
    || die 1 "git checkout of $start failed in $(q "$made")"
  for other in $(git -C "$made" for-each-ref --format='%(refname:short)' refs/heads); do
    [ "$other" = "$branch" ] || git -C "$made" branch -q -D -- "$other" >&2
  done
  for key in user.name user.email; do  # REPO's own identity, for the agents' commits
    if value=$(git -C "$repo" config --local --get "$key"); then
      git -C "$made" config "$key" "$value"
    fi
  done
  mv "$made" "$wt" || die 1 "cannot move $(q "$made") into place"  # both absolute
  if [ -z "$tip" ]; then
    git -C "$repo" update-ref "refs/heads/$branch" "$start" "" \
      || die 1 "git update-ref $branch failed in $(q "$repo")"
  fi
fi

identity=()  # for merge commits only: asked only when there is something to merge
if [ ${#commits[@]} -gt 0 ] && [ -z "$(git -C "$wt" config user.email || true)" ]; then
  identity=(-c user.name=hatchdoit -c user.email=hatchdoit@localhost)
fi
index=0
for commit in ${commits[@]+"${commits[@]}"}; do
  ref=${merges[$index]}
  index=$((index + 1))
  if git -C "$wt" merge-base --is-ancestor "$commit" HEAD; then
    continue
  fi
  if ! git ${identity[@]+"${identity[@]}"} -C "$wt" merge --no-edit --no-ff \
      -m "Merge branch '$ref' into $branch" "$commit" >&2; then
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
