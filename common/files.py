"""Durable small-file writes: the file is the old one or the new one after a
crash or a power cut, never half of one and never missing.

A rename is atomic but not durable until the directory holding it is fsynced;
the data must be fsynced before the rename or the new name may point at an
empty file after a power cut.  Every config, PIN state, enrolment secret,
token, menu state and print file goes through here so that is done once.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make the renames and unlinks done in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def stage(path: Path, data: bytes | str, mode: int = 0o600, owner: tuple[int, int] | None = None) -> Path:
    """``data`` in a new fsynced temp file next to ``path`` (same filesystem, so
    the rename is atomic); :func:`commit` it, or unlink it to change nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        if owner is not None:
            os.fchown(fd, *owner)
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    return Path(tmp)


def commit(staged: Path, path: Path) -> None:
    """Rename a :func:`stage`\\ d file over ``path`` and fsync the directory."""
    os.replace(staged, path)
    fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes | str, mode: int = 0o600, owner: tuple[int, int] | None = None) -> None:
    """Write, fsync, rename, fsync the directory.  Private (0600) unless ``mode`` says otherwise."""
    path = Path(path)
    commit(stage(path, data, mode, owner), path)
