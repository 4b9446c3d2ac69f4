"""A stand-in for the `safetensors` package on machines that have only torch and numpy (a bare GPU
box): enough of its API for gankit to import, read the shipped classifier and write a file.

Installed into sys.modules only when the real package cannot be imported; gankit itself always
depends on the real one. The format: 8-byte little-endian header size, a JSON header mapping each
tensor name to {dtype, shape, data_offsets}, then the raw little-endian bytes.
"""
from __future__ import annotations

import json
import struct
import sys
import types
from typing import Any, Optional

import torch

DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
          "U8": torch.uint8, "BOOL": torch.bool}
NAMES = {v: k for k, v in DTYPES.items()}


class SafetensorError(Exception):
    pass


def load(blob: bytes) -> dict[str, torch.Tensor]:
    try:
        (n,) = struct.unpack("<Q", blob[:8])
        header = json.loads(blob[8:8 + n])
    except (struct.error, ValueError) as e:
        raise SafetensorError(f"bad safetensors header ({e})") from None
    data, out = memoryview(blob)[8 + n:], {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        flat = torch.frombuffer(bytearray(data[start:end]), dtype=DTYPES[info["dtype"]])
        out[name] = flat.reshape(info["shape"])
    return out


def load_file(path: str) -> dict[str, torch.Tensor]:
    with open(path, "rb") as f:
        return load(f.read())


def save_file(tensors: dict[str, torch.Tensor], path: str,
              metadata: Optional[dict[str, str]] = None) -> None:
    header: dict[str, Any] = {"__metadata__": metadata} if metadata else {}
    chunks, offset = [], 0
    for name, t in sorted(tensors.items()):
        raw = t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + b"".join(chunks))


def safe_open(*args: Any, **kwargs: Any) -> Any:
    raise SafetensorError("safe_open is not available in the stand-in")   # callers fall back


def install_if_missing() -> bool:
    """Register the stand-in as `safetensors` when the real package is absent; True if it did."""
    try:
        import safetensors.torch  # noqa: F401
        return False
    except ImportError:
        pass
    top = types.ModuleType("safetensors")
    sub = types.ModuleType("safetensors.torch")
    top.SafetensorError, top.safe_open, top.torch = SafetensorError, safe_open, sub
    sub.load, sub.load_file, sub.save_file = load, load_file, save_file
    sys.modules["safetensors"], sys.modules["safetensors.torch"] = top, sub
    return True
