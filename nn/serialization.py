"""Save and load state dicts (``name -> array``) as ``.npz`` files: no pickle, atomic writes, integrity check.

Format: a numpy ``.npz`` (zip of ``.npy`` files), one entry per key, plus a ``__chainrule__`` entry holding UTF-8
JSON ``{"format": "chainrule.state_dict", "version": 1, "keys": [...], "sha256": {key: hex}}`` where each digest is
``sha256(key, dtype.str, shape, C-order bytes)``. ``load`` recomputes the digests and names any key that differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import atomic_write

__all__ = ["save", "load", "RECORD_KEY"]

RECORD_KEY = "__chainrule__"
_FORMAT = "chainrule.state_dict"


def _to_array(key: str, value: Any) -> np.ndarray:
    """ndarray as-is, ``value.numpy()`` for Tensors, ``value.data`` if it is an ndarray, numbers via ``np.asarray``."""
    if isinstance(value, np.ndarray):
        arr = value
    elif hasattr(value, "numpy") and callable(value.numpy):
        arr = np.asarray(value.numpy())
    elif isinstance(getattr(value, "data", None), np.ndarray):
        arr = value.data
    elif isinstance(value, (int, float, bool, np.generic)):
        arr = np.asarray(value)
    else:
        raise TypeError(f"state_dict[{key!r}]: cannot store a {type(value).__name__}; expected an array or Tensor")
    if arr.dtype.hasobject:
        raise TypeError(f"state_dict[{key!r}]: object arrays are not allowed (they would need pickle)")
    return arr


def _digest(key: str, arr: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([key, arr.dtype.str, list(arr.shape)]).encode())
    h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def save(state_dict: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``state_dict`` to ``path`` (used as given, no suffix added) atomically: temp file in the same folder,
    fsync, ``os.replace``. On any error the previous file at ``path`` is left untouched."""
    arrays: dict[str, np.ndarray] = {}
    for key, value in state_dict.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"state_dict keys must be non-empty strings, got {key!r}")
        if key == RECORD_KEY:
            raise ValueError(f"{RECORD_KEY!r} is reserved")
        arrays[key] = _to_array(key, value)
    record = {"format": _FORMAT, "version": 1, "keys": list(arrays),
              "sha256": {k: _digest(k, a) for k, a in arrays.items()}}
    payload = np.frombuffer(json.dumps(record).encode("utf-8"), dtype=np.uint8)

    atomic_write(path, lambda f: np.savez(f, **arrays, **{RECORD_KEY: payload}))


def load(path: str | os.PathLike[str], verify: bool = True) -> dict[str, np.ndarray]:
    """Read a file written by ``save`` -> ``{key: ndarray}`` in the saved order (``allow_pickle=False``).

    Raises ``ValueError`` naming the path for truncated/corrupt files, and naming the key when its contents do not
    match the stored sha256 (``verify=False`` skips the digests and also accepts plain ``np.savez`` files).
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            data = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, KeyError, zlib.error) as e:
        raise ValueError(f"{path}: not a valid chainrule state file (truncated or corrupted?): {e}") from e

    raw = data.pop(RECORD_KEY, None)
    if raw is None:
        if verify:
            raise ValueError(f"{path}: no {RECORD_KEY!r} integrity record (not written by nn.save?); "
                             f"use load(path, verify=False) to read it anyway")
        return data
    try:
        record = json.loads(raw.tobytes().decode("utf-8"))
        keys = list(record["keys"])
        digests = dict(record["sha256"])
        if record["format"] != _FORMAT:
            raise ValueError(f"format is {record['format']!r}, expected {_FORMAT!r}")
    except Exception as e:
        raise ValueError(f"{path}: unreadable {RECORD_KEY!r} integrity record: {e}") from e
    if set(keys) != set(data):
        missing, extra = sorted(set(keys) - set(data)), sorted(set(data) - set(keys))
        raise ValueError(f"{path}: keys do not match the integrity record (missing {missing}, unexpected {extra})")
    if verify:
        for k in keys:
            if _digest(k, data[k]) != digests.get(k):
                raise ValueError(f"{path}: entry {k!r} fails its sha256 check (file tampered with or corrupted)")
    return {k: data[k] for k in keys}
