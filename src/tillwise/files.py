"""Writing a file so that a reader never sees half of it: the one way Tillwise does it."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` through a temporary file of this call's own in the same folder
    (flushed to disk, then renamed over ``path``): a crash, a full disk or a concurrent writer
    leaves the old file or the new one, never a mix, and no temporary file behind.

    A symbolic link is written through (its target is replaced, the link kept). A file that is
    there keeps its permissions, and one this user may not write is refused rather than
    replaced; a new file gets ``mode`` (default: 0o666 less the umask, as ``open`` gives).
    Raises :class:`OSError` (the folder is missing or not writable, the file is read-only or
    not a regular file, the disk is full)."""
    path = Path(os.path.realpath(path))
    try:
        found = os.stat(path)
    except FileNotFoundError:
        keep = _default_mode() if mode is None else mode
    else:
        if not stat.S_ISREG(found.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        if not os.access(path, os.W_OK):
            raise PermissionError(errno.EACCES, "the file is read-only", str(path))
        keep = stat.S_IMODE(found.st_mode)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, keep)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _default_mode() -> int:
    """0o666 less the process's umask — read from Linux's process status where it can be,
    since reading it with ``os.umask`` changes it for a moment for every thread."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    mask = os.umask(0o077)
    os.umask(mask)
    return 0o666 & ~mask
