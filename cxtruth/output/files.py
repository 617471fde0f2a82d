"""Files written whole or not at all: atomic writes, a set of outputs moved into place together."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from ..errors import RenderError

def write_atomic(path: Path, data: bytes | str) -> None:
    """Write to a temporary file beside ``path``, then move it into place.

    A crash or a full disk leaves the previous file as it was.
    """
    tmp = _write_temporary(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise



def _write_temporary(path: Path, data: bytes | str) -> str:
    """A complete, fsynced copy of ``data`` under a temporary name beside ``path``."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; reports are shared like any file
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp



def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask



def write_outputs(outputs: dict[Path, bytes | str]) -> None:
    """Write several files as a set: every one complete under a temporary name, then all moved into place.

    A failure while writing (a full disk) replaces none of them; a failure
    while moving them (a name taken by a folder) puts back the files already
    moved, so the previous set stays. The moves happen in the order given, so
    the caller puts last the file that names the others' hashes (the run
    record, decision 51): a kill between two moves leaves files that a reader
    can tell do not match it.
    """
    staged: list[tuple[str, Path]] = []
    previous: dict[Path, str | None] = {}  # each target's earlier file, kept under a second name
    path = None
    try:
        for path, data in outputs.items():
            staged.append((_write_temporary(path, data), path))
        for tmp, path in staged:
            previous[path] = _keep(path)
            os.replace(tmp, path)
        for folder in {path.parent for path in outputs}:
            sync_folder(folder)
    except OSError as exc:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        _put_back(previous, moved=[p for _, p in staged if p in previous and p != path])
        raise RenderError(f"cannot write {path or exc.filename}: {exc.strerror or exc}",
                          hint="check free space and permissions of the output folder") from None
    for kept in previous.values():
        if kept:
            Path(kept).unlink(missing_ok=True)


def _keep(path: Path) -> str | None:
    """A second name (a hard link) for the file at ``path``, if there is one, to put it back."""
    if not path.is_file():
        return None
    kept = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.prev.tmp")  # link() never overwrites
    try:
        os.link(path, kept)
    except OSError:  # no hard links here: the set cannot be put back, as before
        return None
    return kept


def _put_back(previous: dict[Path, str | None], moved: list[Path]) -> None:
    """The earlier files of ``moved`` back in place (best effort), or the new ones removed."""
    for path in moved:
        kept = previous.get(path)
        try:
            if kept:
                os.replace(kept, path)
            else:
                path.unlink(missing_ok=True)
        except OSError:
            pass
    for kept in previous.values():
        if kept:
            Path(kept).unlink(missing_ok=True)



def sync_folder(folder: Path) -> None:
    """Make the names in ``folder`` durable (best effort)."""
    # The moves are durable only once the folder is: a delivery record that a power cut
    # took back would let the next run send again.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the moves are still atomic
    finally:
        os.close(fd)
