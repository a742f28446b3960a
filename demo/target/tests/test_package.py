"""The package imports and says which version it is."""

import sys
import unittest
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

import textkit  # noqa: E402


class PackageTest(unittest.TestCase):
    def test_version_is_semantic(self) -> None:
        self.assertRegex(textkit.__version__, r"^\d+\.\d+\.\d+$")


if __name__ == "__main__":
    unittest.main()
