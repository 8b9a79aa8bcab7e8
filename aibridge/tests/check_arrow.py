"""Reads an Arrow IPC stream of embeddings with pyarrow (an independent reader) and checks it.

usage: check_arrow.py FILE ROWS DIM MODEL EXPECTED_FIRST_VALUE
"""
import sys

import pyarrow as pa

path, rows, dim, model, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
with open(path, "rb") as f:
    table = pa.ipc.open_stream(f).read_all()
field = table.schema.field("embedding")
assert field.type == pa.list_(pa.field("item", pa.float32(), nullable=False), dim), field.type
assert not field.nullable
assert table.num_rows == rows, table.num_rows
meta = table.schema.metadata
assert meta[b"model"].decode() == model and int(meta[b"dim"]) == dim, meta
values = table.column("embedding").combine_chunks().flatten().to_numpy()
assert len(values) == rows * dim
assert abs(values[0] - first) < 1e-7, (values[0], first)
table.validate(full=True)
print("ok", rows, dim)
