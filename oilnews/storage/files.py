"""Files oilnews writes, each whole or not at all: written beside the target, fsynced and renamed
into place, so a reader (or a crash) never sees half of one."""

from __future__ import annotations

import os
import signal
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

_STOPS = {signal.SIGINT, signal.SIGTERM}


def write_atomically(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """`write(stream)` fills a temporary file beside `path`; fsynced, it replaces `path`.
    A failure (or a kill) leaves `path` as it was; a temporary file a killed writer left is
    removed by the next write. A target that is not a regular file (/dev/null, /dev/stdout, a
    named pipe) is written into as it is: renaming over it would put a file where the device was
    (as root, /dev/null itself: seen here)."""
    try:
        special = not stat.S_ISREG(path.stat().st_mode)
    except FileNotFoundError:
        special = False
    if special:
        with path.open("wb") as stream:
            write(stream)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in path.parent.glob(f".{path.name}.*.partial"):
        leftover.unlink(missing_ok=True)  # what a killed export left: never the target itself
    # SIGINT/SIGTERM held back while the temporary file comes to be, so that a stop cannot land
    # between its creation and the cleanup below taking charge of it (a test sends SIGTERM at
    # exactly that moment); one that came meanwhile arrives when the mask is lifted, inside it.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
    temporary: str | None = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        stream = os.fdopen(handle, "wb")
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        with stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        raise
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
