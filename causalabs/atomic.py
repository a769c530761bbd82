"""Atomic file writes: readers see the old file or the whole new one, never a part."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: A temporary file of :func:`write_bytes_atomic`: ``.<target name>.<8 random characters>.tmp``.
TEMP_NAME = re.compile(r"\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then ``os.replace``.

    Readers see the old file or the whole new one, never a part; on any error
    (KeyboardInterrupt included) the temporary file is removed.  The file gets
    the usual permissions (0o666 less the umask).
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write ``payload`` as JSON to ``path`` atomically (see :func:`write_bytes_atomic`)."""
    write_bytes_atomic(path, (json.dumps(payload, indent=1, sort_keys=True) + "\n").encode())


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`write_bytes_atomic`)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def temp_target(name: str) -> str | None:
    """The file name a temporary file of :func:`write_bytes_atomic` was to become, or None if ``name`` is not one."""
    m = TEMP_NAME.fullmatch(name)
    return None if m is None else m.group("target")


def remove_stale_temps(folder: Path, owns: Callable[[str], bool]) -> list[Path]:
    """Remove the temporary files a killed writer left in ``folder`` for targets ``owns(name)`` accepts.

    A writer that is killed outright (SIGKILL, power loss) cannot remove its
    temporary file; a later run that writes the same targets calls this
    first.  Only files named like :func:`write_bytes_atomic`'s temporaries
    (``.<target>.XXXXXXXX.tmp``) whose target the caller owns are removed;
    the removed paths are returned.  Two runs writing into one folder at
    once are not supported (one would remove the other's temporaries).
    """
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for p in sorted(folder.iterdir()):
        target = temp_target(p.name)
        if target is not None and owns(target) and p.is_file() and not p.is_symlink():
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed
