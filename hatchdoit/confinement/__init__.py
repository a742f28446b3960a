"""Confinement of agents and of the commands run on their code (README: What an agent can touch)."""
