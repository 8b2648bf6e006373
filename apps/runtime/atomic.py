"""Writes that a killed process cannot leave half done.

Every file of a run that a later command reads (the record, history,
metrics, report, ``best.keras``, the export) is written under a temporary
name beside its final one and renamed into place: a rename within one
filesystem is atomic on POSIX, so a reader sees the old file or the new
one, never a torn one.
"""

import contextlib
import os
import pathlib
import shutil


def _fsync(path):
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


@contextlib.contextmanager
def replacing(path):
    """Yield a temporary path beside ``path``; on success rename it over
    ``path``. The temporary name keeps the suffix (Keras picks the format by
    it)."""
    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        yield temporary
        _fsync(temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def write_text(path, text):
    """Write ``text`` to ``path`` atomically."""
    with replacing(path) as temporary:
        pathlib.Path(temporary).write_text(text)


@contextlib.contextmanager
def replacing_dir(path):
    """Yield a temporary directory beside ``path``; on success swap it in.

    The old directory is first renamed aside (``path.old``) and removed
    after the new one is in place, so one of them always exists; a reader
    that finds only ``path.old`` (a kill between the two renames) can use
    :func:`recover_dir`.
    """
    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.name}.partial-{os.getpid()}")
    old = path.with_name(f"{path.name}.old")
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        yield temporary
        if path.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.rename(path, old)
        os.rename(temporary, path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def recover_dir(path):
    """Put back ``path`` from ``path.old`` after a kill between the renames."""
    path = pathlib.Path(path)
    old = path.with_name(f"{path.name}.old")
    if not path.exists() and old.exists():
        os.rename(old, path)
    return path
