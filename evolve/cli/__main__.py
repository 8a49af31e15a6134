"""`python -m evolve.cli`: the same command as the `evolve` script."""

import sys

from evolve.cli import main

sys.exit(main())
