"""The steps of a TaskSpec's chain: worktree, factory, summary, checks, qa, finish."""
