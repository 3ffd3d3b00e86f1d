"""parquet-logger: every LangChain event of a program, in Parquet, without slowing it down.

from parquet_logger import ParquetLogger, with_tags
logger = ParquetLogger("./logs")
llm.invoke("What is 2+2?", config={**with_tags(custom_id="q1"), "callbacks": [logger]})
"""

from parquet_logger.events import EventType
from parquet_logger.handler import ParquetLogger
from parquet_logger.tagging import with_tags

__version__ = "0.1.0"

__all__ = ["EventType", "ParquetLogger", "__version__", "with_tags"]
