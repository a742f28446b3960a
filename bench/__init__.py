"""hatchdoit benchmarks: speed and scale against bare doit, bare git/tmux and a polling loop.

`python -m bench` runs every measure of issue 7 in temp directories, each next to its baseline in
the same run, prints a JSON document and a markdown table, and rewrites the generated section of
docs/benchmarks.md. `python -m bench --quick` is the small version the smoke test runs.
"""
