"""A run against its provider, as the steps call it: the fault of a run, the pause and rerun, the
breaker (gate), the budgets and the live spend."""
