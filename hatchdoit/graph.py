"""Kept at its old path: the dodo.py that `hatchdoit init` writes imports doit_namespace from here.
The graph lives in hatchdoit/build/graph.py."""

from hatchdoit.build.graph import doit_namespace as doit_namespace
