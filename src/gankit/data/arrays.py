"""Reading .npy and .npz files that may be damaged or crafted: every problem is one DataError.

The file's own bytes decide what it is (a zip archive or a bare .npy), not its name; object
arrays are never unpickled; and every array's header is checked against the bytes that hold it
before anything is allocated, so a header that claims 931 GiB in a 1 kB file is refused, not
allocated.
"""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import DataError

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of a .npz (by name) or a .npy (as "images")."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file" + (" (it is a directory)" if path.is_dir() else ""))
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
            f.seek(0)
            if magic.startswith(NPY_MAGIC):
                return {"images": _read_npy(f, path.stat().st_size, str(path))}
            if not magic.startswith(ZIP_MAGIC):
                raise DataError(f"{path} is neither an .npz archive nor an .npy array")
            arrays = {}
            with zipfile.ZipFile(f) as z:
                for info in z.infolist():
                    if not info.filename.endswith(".npy"):
                        continue
                    with z.open(info) as member:
                        name = f"{path}:{info.filename}"
                        arrays[info.filename[:-4]] = _read_npy(member, info.file_size, name)
    except DataError:
        raise
    except (OSError, EOFError, ValueError, TypeError, KeyError, RuntimeError, MemoryError,
            zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, NotImplementedError) as e:
        raise DataError(f"cannot read {path}: it is damaged or not a NumPy file "
                        f"({type(e).__name__}: {e})") from None
    if not arrays:
        raise DataError(f"{path} holds no arrays")
    return arrays


def _read_npy(f: BinaryIO, size: int, name: str) -> np.ndarray:
    """One array from an open .npy stream of `size` bytes, its header checked first."""
    fmt = np.lib.format
    version = fmt.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = fmt.read_array_header_1_0(f)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = fmt.read_array_header_2_0(f)
    else:
        raise DataError(f"cannot read {name}: unknown .npy format version {version}")
    if dtype.hasobject:
        raise DataError(f"{name} holds object arrays, which are never unpickled; save plain "
                        f"numeric arrays")
    count = int(np.prod(shape, dtype=object))
    if count * dtype.itemsize > size:
        raise DataError(f"{name}: its header claims {list(shape)} {dtype} "
                        f"({count * dtype.itemsize:,} bytes) but the file holds {size:,} bytes; "
                        f"it is damaged or crafted")
    array = np.empty(count, dtype=dtype)
    view, got = memoryview(array.view(np.uint8)), 0
    while got < len(view):
        n = f.readinto(view[got:])
        if not n:
            raise DataError(f"{name} is cut short ({got:,} of {len(view):,} bytes)")
        got += n
    if fortran:
        return array.reshape(shape[::-1]).transpose()
    return array.reshape(shape)
