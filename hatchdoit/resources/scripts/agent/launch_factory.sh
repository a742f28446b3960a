#!/usr/bin/env bash
# Usage: launch_factory.sh --worktree DIR --worktrees-root ROOT -- ARGV...
# launch_agent.sh with --role factory; see launch_agent.sh for the contract and exit codes.
set -euo pipefail
self=$0  # called through symlinks: follow them (plain readlink: BSD has no readlink -f)
while [[ -L $self ]]; do l=$(readlink -- "$self"); [[ $l == /* || $self != */* ]] || l=${self%/*}/$l; self=$l; done
here=.; [[ $self != */* ]] || here=${self%/*}
# "$BASH" -p: started as `bash -p launch_factory.sh`, no BASH_ENV of the environment runs here either
exec "$BASH" -p "$here/launch_agent.sh" --role factory "$@"
