"""`python -m parquet_logger_daemon`: the writer's command line."""

import sys

from .cli import main

sys.exit(main())
