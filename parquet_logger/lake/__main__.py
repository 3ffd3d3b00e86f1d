"""`python -m parquet_logger.lake commit|optimize|vacuum SOURCE`."""

import sys

from parquet_logger.lake.cli import main

sys.exit(main())
