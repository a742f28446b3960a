"""Kept at this path for dodo.py files: `hatchdoit init` writes `add_tasks(globals())`, older
ones call doit_namespace. The graph lives in hatchdoit/build/graph.py.

The cycle collector is held off from here, before the imports, until doit has built its tasks
(core/collector.py; the first up-to-date check or step resumes it): the imports make ~10^5
objects that all live on (pydantic's models and schemas, typing's generics), and the ~70
collections their allocations triggered walked them and freed nothing (~7 % of the import)."""

from hatchdoit.core.collector import hold_until_loaded

hold_until_loaded()

from hatchdoit.build.graph import add_tasks, doit_namespace  # noqa: E402

__all__ = ["add_tasks", "doit_namespace"]
