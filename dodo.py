"""doit entry point: the task graph is built by hatchdoit from hatchdoit.yaml and specs_link/."""

from hatchdoit.graph import add_tasks

add_tasks(globals())
