"""hatchdoit: a Make-style build in which every TaskSpec is a doit target."""

__version__ = "0.1.0"
