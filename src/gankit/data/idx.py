"""The IDX format of the MNIST files: a 4-byte magic, big-endian dimensions, then raw data.

Layout: bytes 0-1 are zero, byte 2 is the element type, byte 3 the number of dimensions; then one
big-endian uint32 per dimension; then the elements, big-endian, in C order. Files are often gzipped.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError

# type code → big-endian numpy dtype (the format stores multi-byte numbers big-endian)
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


def maybe_gunzip(raw: bytes, name: str) -> bytes:
    """Return `raw` decompressed if it starts with the gzip magic, else unchanged."""
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as err:  # BadGzipFile is an OSError
        raise DataError(f"{name}: not a complete gzip file ({err})") from None


def read_idx(source: str | os.PathLike | bytes, name: str | None = None) -> np.ndarray:
    """Decode an IDX file (path or bytes, gzipped or not) into a native-endian array of its shape.

    `name` is what error messages call the data (defaults to the path, or "IDX data" for bytes).
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw, name = bytes(source), name or "IDX data"
    else:
        name = name or str(source)
        try:
            raw = Path(source).read_bytes()
        except OSError as err:
            raise DataError(f"cannot read IDX file {name}: {err.strerror or err}") from None
    data = maybe_gunzip(raw, name)
    return _decode(data, name)


def _decode(data: bytes, name: str) -> np.ndarray:
    """Parse the header of decompressed IDX bytes and view the payload as an array."""
    if len(data) < 4 or data[0:2] != b"\x00\x00" or data[2] not in IDX_DTYPES:
        raise DataError(f"{name}: not an IDX file (bad magic number {data[:4].hex() or 'empty'})")
    dtype, ndim = IDX_DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{name}: truncated IDX header ({len(data)} bytes, {ndim} dimensions)")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(data) - header
    if got != expected:
        what = "truncated" if got < expected else "has trailing bytes"
        raise DataError(f"{name}: IDX data {what}: shape {shape} needs {expected} bytes, found {got}")
    # frombuffer is a read-only view; astype to the native byte order copies it into a writable array
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def encode_idx(array: np.ndarray) -> bytes:
    """Encode an array as uncompressed IDX bytes (the inverse of `read_idx`; handy for tests)."""
    array = np.asarray(array)
    for code, dtype in IDX_DTYPES.items():
        if array.dtype.kind == dtype.kind and array.dtype.itemsize == dtype.itemsize:
            header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
            return header + np.ascontiguousarray(array, dtype=dtype).tobytes()
    raise DataError(f"cannot encode dtype {array.dtype} as IDX (expected one of u1 i1 i2 i4 f4 f8)")
