"""Kept at this path for dodo.py files: `hatchdoit init` writes `add_tasks(globals())`, older
ones call doit_namespace. The graph lives in hatchdoit/build/graph.py."""

from hatchdoit.build.graph import add_tasks, doit_namespace

__all__ = ["add_tasks", "doit_namespace"]
