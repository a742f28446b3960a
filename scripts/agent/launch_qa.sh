#!/usr/bin/env bash
# Usage: launch_qa.sh --worktree DIR --worktrees-root ROOT -- ARGV...
# launch_agent.sh with --role qa; see launch_agent.sh for the contract and exit codes.
set -euo pipefail
here=.; [[ $0 != */* ]] || here=${0%/*}
exec "$here/launch_agent.sh" --role qa "$@"
