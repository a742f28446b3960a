"""Kept at its old path: stop_hook.sh copies made by earlier `hatchdoit init`s import main from
here. The hook lives in hatchdoit/agents/stop_hook.py."""

from hatchdoit.agents.stop_hook import main as main

if __name__ == "__main__":
    raise SystemExit(main())
