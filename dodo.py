"""doit entry point: the task graph is built by hatchdoit from hatchdoit.yaml and specs_link/."""

from pathlib import Path

from hatchdoit.graph import doit_namespace

globals().update(doit_namespace(Path(__file__).parent))
