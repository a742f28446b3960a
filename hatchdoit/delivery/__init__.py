"""How work lands: the merge queue, the pull request, rework after a refusal, the attempt's commit,
the delivered worktree retired."""
