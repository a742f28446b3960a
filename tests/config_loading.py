"""Shared by the tests of hatchdoit.config (test_config_*.py): writing a hatchdoit.yaml, and
the ConfigError of loading a project, checked to name where the bad value was set and a fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hatchdoit.config.loader import CONFIG_FILE, load_config
from hatchdoit.core.errors import EXIT_CONFIG, ConfigError


def write_config(root: Path, data: dict[str, Any] | str) -> Path:
    path = root / CONFIG_FILE
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def config_error(
    root: Path, environ: dict[str, str] | None = None, source: str | None = None
) -> ConfigError:
    """The ConfigError of loading `root`; `source` is where it must say the value was set (the
    variable's name; default the file)."""
    with pytest.raises(ConfigError) as exc:
        load_config(root, environ or {})
    assert exc.value.exit_code == EXIT_CONFIG == 2
    assert exc.value.path == (source or str(root / CONFIG_FILE))
    assert exc.value.fix
    return exc.value
