#!/usr/bin/env python3
"""scratchbench's front door in a checkout: the `scratchbench` command, with results/, reports/
(and data/) in this checkout, and this project's own study (studies/) loaded. `python run_all.py
--help` lists the options and examples."""

import sys
from pathlib import Path

from ablations import cli

ROOT = Path(__file__).resolve().parent


def main(argv=None):
    return cli.main(argv, root=ROOT, prog="run_all.py", home_study="studies")


if __name__ == "__main__":
    sys.exit(main())
