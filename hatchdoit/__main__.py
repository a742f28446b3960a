"""`python -m hatchdoit`: the `hatchdoit` command line (hatchdoit/cli/main.py)."""

import sys

from hatchdoit.cli.main import main

sys.exit(main())
