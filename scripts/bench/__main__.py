"""`python -m scripts.bench` (from the repository root): the same as `python scripts/bench.py`."""

import sys

from scripts.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
