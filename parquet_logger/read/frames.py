"""Arrow results as pandas frames with nullable dtypes (integers stay integers when a value
is missing: `Int64`, never float64 with NaN)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

_NULLABLE = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def arrow_table(result: pa.Table | pa.RecordBatchReader) -> pa.Table:
    """A DuckDB result's Arrow form as a table (`.arrow()` gives a reader since DuckDB 1.4)."""
    return result.read_all() if isinstance(result, pa.RecordBatchReader) else result


def to_pandas(result: pa.Table | pa.RecordBatchReader) -> pd.DataFrame:
    """`result` as a DataFrame: integer and boolean columns nullable, strings as objects,
    timestamps tz-aware UTC, lists as Python lists."""
    return arrow_table(result).to_pandas(types_mapper=_NULLABLE.get, ignore_metadata=True)
