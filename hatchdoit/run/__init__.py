"""A TaskSpec's run: the step context, its attempts, its git, its test runs and agent runs: what
the steps, delivery and provider handling all use."""
