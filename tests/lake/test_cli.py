"""The `lake` command as the `parquet-logger` parser mounts it, and without deltalake."""

from __future__ import annotations

import argparse

from deltalake import DeltaTable

from parquet_logger.lake.cli import EXIT_OK, register
from tests.lake.tables import write_parts
from tests.support import run_python


def test_register_mounts_lake_under_a_parent_parser(tmp_path, capsys):
    """`parquet-logger lake commit DIR` through a parent parser: args.run gives the code."""
    parser = argparse.ArgumentParser(prog="parquet-logger")
    register(parser.add_subparsers(dest="command", required=True))
    write_parts(tmp_path, 2)
    args = parser.parse_args(["lake", "commit", str(tmp_path)])
    assert args.run(args) == EXIT_OK
    assert "registered 2 file(s)" in capsys.readouterr().out
    assert len(DeltaTable(str(tmp_path)).file_uris()) == 2


def test_parser_works_without_deltalake_and_commands_say_what_is_missing(tmp_path):
    """With deltalake not importable, the parser still builds; a command exits 1 and names
    the extra to install."""
    code = f"""
import sys
sys.modules["deltalake"] = None  # import deltalake -> ImportError
from parquet_logger.lake.cli import main
code = main(["commit", {str(tmp_path)!r}])
assert code == 1, code
"""
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert "parquet-logger[lake]" in proc.stderr
