"""Entry point for `python -m app`."""

import sys

from app.entrypoints.cli import main

sys.exit(main())
