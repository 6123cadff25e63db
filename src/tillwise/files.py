"""Writing a file so that a reader never sees half of it: the one way Tillwise does it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file of this call's own in the same folder
    (flushed to disk, then renamed over ``path``): a crash, a full disk or a concurrent writer
    leaves the old file or the new one, never a mix, and no temporary file behind.
    Raises :class:`OSError` (the folder is missing or not writable, the disk is full)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
