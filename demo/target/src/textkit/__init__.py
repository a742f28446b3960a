"""textkit: small, dependency-free helpers for working with text.

Each feature lives in its own module (for example `textkit.slug`); import from there.
"""

__version__ = "0.1.0"
