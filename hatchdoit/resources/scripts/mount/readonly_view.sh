#!/usr/bin/env bash
# Usage: readonly_view.sh --path DIR [--path DIR]... -- ARGV...
#        readonly_view.sh --probe
#
# Runs ARGV (exec: same pid) in a mount namespace of its own in which each DIR is a read-only
# bind mount of itself: ARGV and its children cannot write there, while the rest of the machine
# sees DIR as before. As root: a private mount namespace, and ARGV runs without CAP_SYS_ADMIN
# (it cannot remount). As another user: a user namespace that maps this user to root for the
# mounts, then one that maps it back, so ARGV runs as this user. --probe: exit 0 if this works
# on this machine (a write under such a view fails), else 5 with the reason on stderr.
# Exit: 2 bad arguments, 5 no namespace or mount possible here; else ARGV's.
set -euo pipefail

prog=${0##*/}
self=$0  # called through symlinks: follow them (plain readlink: BSD has no readlink -f)
while [[ -L $self ]]; do l=$(readlink -- "$self"); [[ $l == /* || $self != */* ]] || l=${self%/*}/$l; self=$l; done
here=.; [[ $self != */* ]] || here=${self%/*}
# shellcheck source=../lib/common.sh
. "$here/../lib/common.sh"  # die, q, need and the other shared helpers

args=("$@")
paths=() stage=outside probe=0
while [ $# -gt 0 ]; do
  case $1 in
    --path) need $# "$1" "${2-}"; paths+=("$2"); shift 2 ;;
    --probe) probe=1; shift ;;
    --inside) need $# "$1" "${2-}"; stage=$2; shift 2 ;;  # internal: in the new namespace
    --) shift; break ;;
    -h|--help) sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die 2 "unknown argument: $(q "$1") (the command goes after --)" ;;
  esac
done

if [ "$probe" = 1 ]; then
  dir=$(mktemp -d) || die 5 "cannot make a directory to probe with"
  trap 'rm -rf -- "$dir"' EXIT
  if out=$("$self" --path "$dir" -- bash -c 'if : >"$1/probe" 2>/dev/null; then exit 1; fi' \
    _ "$dir" 2>&1); then
    exit 0
  fi
  printf '%s: %s\n' "$prog" "${out:-a write under the read-only view succeeded}" >&2
  exit 5
fi

[ ${#paths[@]} -gt 0 ] || die 2 "--path is required"
[ -n "${1-}" ] || die 2 "missing command after --"
for p in "${paths[@]}"; do
  [[ $p == /* && $p != *[[:cntrl:]]* ]] || die 2 "--path must be absolute: $(q "$p")"
  [ -d "$p" ] || die 5 "--path is not a directory: $(q "$p")"
done

case $stage in
  outside)
    command -v unshare >/dev/null || die 5 "unshare (util-linux) is not installed"
    if [ "$EUID" = 0 ]; then  # bash's own: no `id` program on every agent launch
      exec unshare --mount --propagation private -- "$BASH" -p "$self" --inside root "${args[@]}"
    fi
    exec unshare --user --map-root-user --mount --propagation private -- \
      "$BASH" -p "$self" --inside "user:$EUID:$(id -g)" "${args[@]}"
    ;;
  root|user:*)
    for p in "${paths[@]}"; do
      # One mount: util-linux 2.27 and later remount a bind read-only themselves. `[ -w ]`
      # (access(2): EROFS) tells an older mount that left it writable; then the remount.
      { mount --bind -o ro -- "$p" "$p" 2>/dev/null \
          && { [ ! -w "$p" ] || mount -o remount,bind,ro -- "$p" 2>/dev/null; }; } \
        || die 5 "cannot mount $(q "$p") read-only in a namespace of its own"
    done
    if [ "$stage" = root ]; then
      command -v setpriv >/dev/null || die 5 "setpriv (util-linux) is not installed"
      exec setpriv --bounding-set=-sys_admin --inh-caps=-sys_admin -- "$@"
    fi
    IFS=: read -r _ uid gid <<<"$stage"
    exec unshare --user --map-user="$uid" --map-group="$gid" -- "$@"
    ;;
  *) die 2 "unknown --inside stage: $(q "$stage")" ;;
esac
