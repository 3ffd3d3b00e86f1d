"""Side-by-side benchmark of parquet_logger ("ours") and langchain-callback-parquet-logger
4.0.0 ("theirs") on identical, seeded, realistic LangChain events.

    python scripts/bench.py --quick                 # every scenario, small, a minute or two
    python scripts/bench.py --json /tmp/bench.json  # the full run (several minutes)

The benchmark itself is the scripts/bench/ package (its docstring lists the scenarios); this
file is its entry point. Spawned workers re-run this file as `__mp_main__`: at module level it
imports only the standard library, so that a worker's time and memory are its own logger's.
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as a script: make `scripts.*` importable (`scripts.bench` is the package folder,
    # which Python prefers to this file of the same name).
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from scripts.bench.cli import main

    sys.exit(main())
