"""Save and load state dicts (``name -> array``) as ``.npz`` files: no pickle, atomic writes, integrity check.

Format: a numpy ``.npz`` (zip of ``.npy`` files), one entry per key, plus a ``__chainrule__`` entry holding UTF-8
JSON ``{"format": "chainrule.state_dict", "version": 1, "keys": [...], "sha256": {key: hex}}`` where each digest is
``sha256(key, dtype.str, shape, C-order bytes)``. ``load`` recomputes the digests and names any key that differs.

Optimizer state (:func:`save_optimizer_state` / :func:`load_optimizer_state`) uses the same file format: every
array of ``Optimizer.state_dict()["state"]`` becomes an entry ``"state.<index>.<name>"`` (a numpy scalar becomes a
0-d entry, given back as a 0-d array), and one more entry ``__optimizer__`` holds UTF-8 JSON with the rest:
``{"format": "chainrule.optimizer_state", "version": 1, "param_groups": [...], "state_keys": [[index, [names]]],
"scalars": {index: {name: value}}}``. Tuples in the JSON are written as ``{"__tuple__": [...]}`` so
``betas=(0.9, 0.999)`` comes back a tuple. That entry is covered by the sha256 record too.
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

__all__ = ["save", "load", "RECORD_KEY", "save_optimizer_state", "load_optimizer_state", "OPTIMIZER_KEY"]

RECORD_KEY = "__chainrule__"
_FORMAT = "chainrule.state_dict"
OPTIMIZER_KEY = "__optimizer__"
_OPT_FORMAT = "chainrule.optimizer_state"


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

    atomic_write(path, lambda f: _write_npz(f, {**arrays, RECORD_KEY: payload}))


def _write_npz(f: Any, arrays: Mapping[str, np.ndarray]) -> None:
    """``arrays`` as an uncompressed .npz (what ``np.savez`` writes: one ``<key>.npy`` entry each). Not
    ``np.savez(f, **arrays)``: keys named like its own parameters (``file``, ``allow_pickle``) would clash."""
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        for key, a in arrays.items():
            with z.open(key + ".npy", mode="w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, np.asanyarray(a), allow_pickle=False)


def load(path: str | os.PathLike[str], verify: bool = True) -> dict[str, np.ndarray]:
    """Read a file written by ``save`` -> ``{key: ndarray}`` in the saved order (``allow_pickle=False``).

    Raises ``ValueError`` naming the path for truncated/corrupt files, and naming the key when its contents do not
    match the stored sha256 (``verify=False`` skips the digests and also accepts plain ``np.savez`` files).
    """
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):  # a .npy file gives an array (read whole, nothing to close)
            raise ValueError(f"not an .npz archive (np.load gave a {type(archive).__name__})")
        with archive as z:
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


# ------------------------------------------------------------------------------------------------ optimizer state
def _to_json(where: str, value: Any) -> Any:
    """``value`` as plain JSON types; tuples become ``{"__tuple__": [...]}``; anything else is a TypeError."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    if isinstance(value, tuple):
        return {"__tuple__": [_to_json(where, v) for v in value]}
    if isinstance(value, list):
        return [_to_json(where, v) for v in value]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or k == "__tuple__":
                raise TypeError(f"{where}: cannot store the dict key {k!r} in JSON")
            out[k] = _to_json(f"{where}[{k!r}]", v)
        return out
    raise TypeError(f"{where}: cannot store a {type(value).__name__} (expected numbers, strings, lists, tuples, dicts)")


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_from_json(v) for v in value["__tuple__"])
        return {k: _from_json(v) for k, v in value.items()}
    return value


def _flatten_optimizer_state(state_dict: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``Optimizer.state_dict()`` -> (``{"state.<i>.<name>": array}``, JSON-able dict with everything else).

    Arrays (and numpy scalars, as 0-d arrays) become entries; other values (Adam's integer ``step``) go to the
    record's ``scalars``, hyper-parameters to its ``param_groups``.
    """
    arrays: dict[str, np.ndarray] = {}
    scalars: dict[str, dict[str, Any]] = {}
    state_keys: list[list[Any]] = []
    for idx, st in state_dict["state"].items():
        i = int(idx)
        for name, v in st.items():
            if isinstance(v, np.ndarray | np.generic):
                arrays[f"state.{i}.{name}"] = np.asarray(v)
            else:
                scalars.setdefault(str(i), {})[name] = _to_json(f"optimizer state[{i}][{name!r}]", v)
        state_keys.append([i, list(st)])
    groups = [_to_json(f"param_groups[{j}]", dict(g)) for j, g in enumerate(state_dict["param_groups"])]
    meta = {"format": _OPT_FORMAT, "version": 1, "param_groups": groups, "state_keys": state_keys,
            "scalars": scalars}
    return arrays, meta


def _unflatten_optimizer_state(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`_flatten_optimizer_state` (numpy scalars come back as 0-d arrays); raises ``ValueError``
    on anything missing or left over."""
    scalars = meta["scalars"]
    left = dict(arrays)
    state: dict[int, dict[str, Any]] = {}
    for i, names in meta["state_keys"]:
        st: dict[str, Any] = {}
        for name in names:
            key = f"state.{int(i)}.{name}"
            if key in left:
                st[name] = left.pop(key)
            elif name in scalars.get(str(i), {}):
                st[name] = _from_json(scalars[str(i)][name])
            else:
                raise ValueError(f"optimizer state entry {key!r} is missing")
        state[int(i)] = st
    if left:
        raise ValueError(f"unexpected entries {sorted(left)} (not listed in the optimizer record)")
    return {"state": state, "param_groups": [_from_json(g) for g in meta["param_groups"]]}


def save_optimizer_state(state_dict: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``optimizer.state_dict()`` to ``path``.

    Same safe format as :func:`save` (``.npz``, sha256 per entry, atomic, no pickle): arrays as
    ``"state.<index>.<name>"`` entries, hyper-parameters and step counts as JSON in the ``__optimizer__`` entry.
    """
    arrays, meta = _flatten_optimizer_state(state_dict)
    text = json.dumps(meta)  # before touching the file: a TypeError leaves the old one in place
    save({**arrays, OPTIMIZER_KEY: np.frombuffer(text.encode("utf-8"), dtype=np.uint8)}, path)


def load_optimizer_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a file written by :func:`save_optimizer_state` -> a state dict ready for ``Optimizer.load_state_dict``.

    Raises ``ValueError`` naming ``path`` if the file is corrupt, fails its sha256 check or is not an optimizer
    state file (e.g. a model checkpoint).
    """
    data = load(path)
    raw = data.pop(OPTIMIZER_KEY, None)
    if raw is None:
        raise ValueError(f"{path}: not an optimizer state file (no {OPTIMIZER_KEY!r} entry; a model state_dict?)")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
        if meta.get("format") != _OPT_FORMAT:
            raise ValueError(f"format is {meta.get('format')!r}, expected {_OPT_FORMAT!r}")
        return _unflatten_optimizer_state(data, meta)
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: unreadable optimizer state: {e}") from e
