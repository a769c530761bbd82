"""Output paths of the command line: checked before any work runs, written atomically.

A command that would fail to write its result after minutes of work fails
at once instead, having written nothing: a folder where a file belongs, a
file where a folder belongs, a parent folder that cannot be created, a place
that is not writable.  Each is an :class:`~causalabs.errors.OutputPathError`
(exit status 5, the environment).  Parent folders are created only when the
result is written.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from causalabs.atomic import write_text_atomic
from causalabs.errors import OutputPathError


def _writable_dir(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def _check_creatable(p: Path, option: str, given: Path) -> None:
    """The folder ``p`` exists and is writable, or can be created (its nearest existing ancestor is a writable folder).

    ``given`` is the path the user gave (``p`` or a file in it), for messages.
    """
    ancestor = p
    while not ancestor.exists():
        if ancestor.is_symlink():  # a dangling link: creating under it would go elsewhere
            raise OutputPathError(f"{option} {given}: {ancestor} is a broken symbolic link")
        if ancestor.parent == ancestor:
            break
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputPathError(f"{option} {given}: {ancestor} is a file, so the folder {p} cannot be created")
    if not _writable_dir(ancestor):
        raise OutputPathError(f"{option} {given}: cannot write in {ancestor} (permission denied)")


def check_output_file(path: str | Path, option: str) -> Path:
    """``path`` as a place a file can be written (created with its folders, or replaced); else OutputPathError."""
    p = Path(path)
    if p.is_dir():
        raise OutputPathError(f"{option} {p}: is a folder; give a file path")
    if p.exists() and not os.access(p, os.W_OK):
        raise OutputPathError(f"{option} {p}: the file exists and is read-only")
    _check_creatable(p.parent if str(p.parent) else Path("."), option, p)
    return p


def check_output_folder(path: str | Path, option: str, *, files: Sequence[str] = (), folders: Sequence[str] = ()) -> Path:
    """``path`` as a folder results can be written into, with ``files`` and ``folders`` inside it."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputPathError(f"{option} {p}: is a file; {option} takes a folder")
    _check_creatable(p, option, p)
    for name in folders:
        sub = p / name
        if sub.exists() and not sub.is_dir():
            raise OutputPathError(f"{option} {p}: {sub} is a file where a folder of results belongs")
        if sub.is_dir() and not _writable_dir(sub):
            raise OutputPathError(f"{option} {p}: cannot write in {sub} (permission denied)")
    for name in files:
        check_output_file(p / name, option)
    return p


def check_not_an_input(path: str | Path, option: str, inputs: dict[str, str | Path | None]) -> None:
    """``path`` must not be one of the command's input files (``{"the network file": "m.py", ...}``): exit 2.

    Writing a report over the hypothesis or network file it checks would
    destroy a file causalabs did not write.
    """
    from causalabs.errors import LoadError

    target = Path(path).resolve()
    for what, given in inputs.items():
        if given is not None and Path(given).resolve() == target:
            raise LoadError(f"{option} {path}: is {what}; write the result elsewhere")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, creating its folder (never half-written); OutputPathError if it cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
    except OSError as exc:
        raise OutputPathError(f"{path}: cannot be written ({exc.strerror or exc})") from exc


def make_folder(path: Path) -> None:
    """Create ``path`` and its parents for results; OutputPathError if it cannot."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"{path}: the folder cannot be created ({exc.strerror or exc})") from exc


__all__ = ["check_not_an_input", "check_output_file", "check_output_folder", "make_folder", "write_atomic"]
