#!/usr/bin/env bash
# Usage: stop_hook.sh EVENT [PAYLOAD_JSON]
# Called by an agent CLI's stop hook (Claude Code: stdin payload; Codex notify: JSON argument).
# Writes the attempt's .stop file atomically at $HATCHDOIT_STOP_FILE with $HATCHDOIT_RUN_TOKEN.
# EVENT: stop|Stop|agent-turn-complete, stop-failure|StopFailure, session-end|SessionEnd.
# With HATCHDOIT_STOP_GUARD=N (Claude profiles), a Stop while the factory's summary or QA's
# verdict is missing or invalid prints Claude Code's block decision on stdout instead (at most N
# times per run); see hatchdoit/stop_hook.py. Nothing else is ever printed on stdout.
set -euo pipefail
for name in HATCHDOIT_STOP_FILE HATCHDOIT_RUN_TOKEN HATCHDOIT_TASKSPEC_ID HATCHDOIT_ROLE HATCHDOIT_ATTEMPT; do
  if [ -z "${!name:-}" ]; then
    echo "stop_hook.sh: error: $name is not set (run by hatchdoit's agent session only)" >&2
    exit 2
  fi
done
case "${1:-stop}" in
  stop|Stop|stop-failure|StopFailure|session-end|SessionEnd|agent-turn-complete) ;;
  *) printf 'stop_hook.sh: error: unknown event %q\n' "$1" >&2; exit 2 ;;
esac
# With HATCHDOIT_SOURCE (the directory holding the hatchdoit package, set by the orchestrator),
# Python starts isolated (-I: neither the agent's worktree, the current directory, nor PYTHON*
# variables reach sys.path) and without site-packages (-S): the hook needs the standard library
# and hatchdoit only, and an agent waits for it at every stop. The guard loads site-packages
# itself when it must. -c rather than -m: runpy alone cost 8 ms.
if [ -n "${HATCHDOIT_SOURCE:-}" ]; then
  exec "${HATCHDOIT_PYTHON:-python3}" -I -S -c \
    'import sys; sys.path.insert(0, sys.argv.pop(1)); from hatchdoit.agents.stop_hook import main; sys.exit(main())' \
    "$HATCHDOIT_SOURCE" "$@"
fi
exec "${HATCHDOIT_PYTHON:-python3}" -m hatchdoit.agents.stop_hook "$@"
