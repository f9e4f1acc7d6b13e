"""File helpers: writing a file so that it is either complete or absent (never half-written), and its digest."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(f)`` on a temporary file next to ``path``, fsync it, then ``os.replace`` it into place.

    A symbolic link at ``path`` is followed (its target is replaced, the link stays). A file replacing an existing
    one keeps that file's permission bits; a new file gets ``0o666`` less the umask
    (as from a plain ``open(path, "w")``). If anything fails the temporary file is removed and ``path`` keeps its
    old content. Once the file is in place its folder is fsynced too (:func:`fsync_dir`), so the rename itself
    survives a power loss where the platform allows.
    """
    path = Path(path)
    if path.is_symlink():  # write through the link, as open(path, "w") would, instead of replacing the link
        path = Path(os.path.realpath(path))
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    while True:  # 0o666 with O_EXCL: the kernel applies the umask to the new file, unlike mkstemp's 0o600
        tmp = folder / f".{path.name}.{secrets.token_hex(4)}.part"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        except FileNotFoundError:
            pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(folder)


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """fsync the folder ``folder`` so that the renames done in it are on disk (POSIX: a rename is an entry of the
    folder, which a file's own fsync does not cover). Silently nothing where a folder cannot be opened or fsynced
    (Windows, some network file systems)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """Hex digest (``hashlib`` algorithm name) of the file at ``path``, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
