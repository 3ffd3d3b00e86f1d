"""parquet-logger's writer process: drains a log directory's ring into partitioned Parquet.

Installed as `parquet_logger_daemon` (the source folder is `daemon/`); run it as
`parquet-logger-daemon --dir DIR` or `python -m parquet_logger_daemon --dir DIR`.
"""
