#!/usr/bin/env bash
# Usage: ensure_readonly_mount.sh --path PATH [--source DIR] [--bind] [--expect REL]...
#
# Makes or verifies the read-only view of the planning repo at PATH (e.g. specs_link).
# With --source, a missing PATH becomes a symlink to DIR, or with --bind (as root) a read-only
# bind mount of DIR, falling back to a symlink when mounting is not permitted. A bind mount
# whose source vanished is unmounted and redone (with --source). Then PATH must resolve to a
# readable directory holding _specs/ (or one of the --expect paths, e.g. specs). Prints:
#   {"path": "...", "resolved": "...", "mode": "symlink|bind|directory", "writable": true|false}
# Exit: 0 ok, 1 missing/broken/stale view, 2 bad arguments.
set -euo pipefail

prog=${0##*/}
self=$0  # called through symlinks: follow them (plain readlink: BSD has no readlink -f)
while [[ -L $self ]]; do l=$(readlink -- "$self"); [[ $l == /* || $self != */* ]] || l=${self%/*}/$l; self=$l; done
here=.; [[ $self != */* ]] || here=${self%/*}
# shellcheck source=../lib/common.sh
. "$here/../lib/common.sh"  # die, q, need and the other shared helpers
json_str() { local s=$1; s=${s//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }

path='' source='' bind=0 expect=()
while [ $# -gt 0 ]; do
  case $1 in
    --path) need $# "$1" "${2-}"; path=$2; shift 2 ;;
    --source) need $# "$1" "${2-}"; source=$2; shift 2 ;;
    --bind) bind=1; shift ;;
    --expect) need $# "$1" "${2-}"; expect+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die 2 "unknown argument: $(q "$1")" ;;
  esac
done
[ -n "$path" ] || die 2 "--path is required"
[[ $path != *[[:cntrl:]]* ]] || die 2 "--path may not contain control characters"
[ "$bind" = 0 ] || [ -n "$source" ] || die 2 "--bind needs --source"
if [ -n "$source" ]; then
  [ -d "$source" ] || die 2 "--source is not a directory: $(q "$source")"
  source=$(resolve "$source")
  [[ $source != *[[:cntrl:]]* ]] || die 2 "--source may not contain control characters"
fi

# PATH made absolute without following PATH itself, as /proc/self/mountinfo records it.
p=$(resolve "$(dirname -- "$path")")
p=${p%/}/$(basename -- "$path")
# Prints "ROOT OPTIONS" of the last mount on $p (ROOT ends in //deleted if its source vanished).
mount_info() {
  [ -r /proc/self/mountinfo ] || return 1
  awk -v p="${p// /\\040}" '$5 == p { r = $4 " " $6 } END { if (r == "") exit 1; print r }' \
    /proc/self/mountinfo
}

if info=$(mount_info); then
  if [[ ${info%% *} == *//deleted ]] || ! ls -- "$p" >/dev/null 2>&1; then
    [ -n "$source" ] || die 1 "$path is a stale mount (fix: umount $p, or rerun with --source DIR)"
    printf '%s: %s is a stale mount; remounting from %s\n' "$prog" "$path" "$source" >&2
    umount -- "$p" 2>/dev/null || umount -l -- "$p" || die 1 "cannot unmount stale $p"
    rmdir -- "$p" 2>/dev/null || die 1 "$p is not empty after unmounting; not touching it"
  fi
fi

if [ ! -e "$p" ] && [ ! -L "$p" ]; then
  [ -n "$source" ] || die 1 "$path does not exist (fix: rerun with --source PLANNING_REPO)"
  mkdir -p -- "$(dirname -- "$p")"
  made=0
  if [ "$bind" = 1 ]; then
    if [ "$(id -u)" = 0 ] && mkdir -- "$p" && mount --bind -- "$source" "$p" 2>/dev/null; then
      if mount -o remount,ro,bind -- "$p" 2>/dev/null; then
        made=1
      else
        umount -- "$p" 2>/dev/null || true
      fi
    fi
    if [ "$made" = 0 ]; then
      rmdir -- "$p" 2>/dev/null || true
      printf '%s: read-only bind mount not permitted; using a symlink instead\n' "$prog" >&2
    fi
  fi
  [ "$made" = 1 ] || ln -s -- "$source" "$p"
fi

resolved=$([ -e "$p" ] && resolve "$p" 2>/dev/null) \
  || die 1 "$path does not resolve to an existing directory (fix: remove it and rerun with --source DIR)"
[[ $resolved != *[[:cntrl:]]* ]] || die 1 "$path resolves to a path with control characters"
{ [ -d "$resolved" ] && [ -r "$resolved" ] && [ -x "$resolved" ]; } \
  || die 1 "$path is not a readable directory (fix: check its permissions or --source)"
if [ ${#expect[@]} -eq 0 ]; then
  [ -d "$resolved/_specs" ] \
    || die 1 "$path has no _specs/ (fix: point --source at the planning repo that holds _specs/)"
else
  found=0
  for rel in "${expect[@]}"; do [ ! -e "$resolved/$rel" ] || found=1; done
  wanted=$(printf '%q, ' "${expect[@]}")
  [ "$found" = 1 ] || die 1 "$path has none of: ${wanted%, } (fix: point --source at the planning repo)"
fi
if [ -n "$source" ] && [ "$resolved" != "$source" ] && ! mount_info >/dev/null; then
  printf '%s: warning: %s points to %s, not %s; left as is\n' "$prog" "$path" "$resolved" "$source" >&2
fi

writable=false
[ ! -w "$resolved" ] || writable=true
if [ -L "$p" ]; then
  mode=symlink
elif info=$(mount_info); then
  mode=bind
  [[ ,${info#* }, != *,ro,* ]] || writable=false
else
  mode=directory
fi
printf '{"path": %s, "resolved": %s, "mode": "%s", "writable": %s}\n' \
  "$(json_str "$p")" "$(json_str "$resolved")" "$mode" "$writable"
