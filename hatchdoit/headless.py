"""Kept at its old path: agent profiles (the bundled ones and users' copies) run
`python -m hatchdoit.headless`. The runner lives in hatchdoit/agents/headless.py."""

from hatchdoit.agents.headless import main as main

if __name__ == "__main__":
    raise SystemExit(main())
