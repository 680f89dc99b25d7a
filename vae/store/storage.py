"""The model store's folder operations, each one atomic from a reader's point of view.

- `publish(src, dst)`: a finished folder appears under a name that must be free. The check and the
  move are one step: renameat2(RENAME_NOREPLACE) where Linux has it, else mkdir(dst) as the atomic
  claim (it fails when the name is taken) followed by rename(src, dst) over that empty claim.
- `exchange(src, dst)`: an overwrite. renameat2(RENAME_EXCHANGE) swaps the two folders in one step
  (src then holds the old version, to be removed); elsewhere the old folder is renamed aside to a
  `.trash-` folder first, and `recover` puts it back if the writer died between the two renames.
- `read_files(folder, names)`: every file read through one open directory, so a reader gets one
  whole version even while a writer swaps folders; it retries if the version vanishes mid-read.
- `durable(...)`: fsync of files and folders, so a finished save survives power loss.
- `recover(root)`: removes what killed writers left (`.tmp-`, `.deleted-`, empty claims) and
  restores an orphaned `.trash-` folder. A writer holds an flock on its folder, so a live writer's
  work is never touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import shutil
import stat
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # not on Windows: no locks; recover then only removes folders an hour old
    fcntl = None  # type: ignore[assignment]

TMP, TRASH, DELETED = ".tmp-", ".trash-", ".deleted-"
NATIVE = True  # use renameat2 where the OS has it; tests set False to run the portable fallback
DURABLE = True  # fsync files and folders; tests that kill processes (not machines) may set False
STALE_SECONDS = 3600  # without flock: a leftover this old is taken to be abandoned
_RENAME_NOREPLACE, _RENAME_EXCHANGE, _AT_FDCWD = 1, 2, -100
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM}
_renameat2 = None


def token() -> str:
    """A fresh, unique version token."""
    return f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}"


def _native(src: Path, dst: Path, flags: int) -> bool:
    """renameat2(src, dst, flags): True when done, False when unavailable; raises OSError."""
    global _renameat2
    if not NATIVE or not sys.platform.startswith("linux"):
        return False
    if _renameat2 is None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        _renameat2 = getattr(libc, "renameat2", False)
    if not _renameat2:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in _UNSUPPORTED:
        return False
    raise OSError(err, os.strerror(err), str(src), None, str(dst))


def publish(src: Path, dst: Path) -> None:
    """Move folder src to dst, which must not exist (FileExistsError if it does, even in a race)."""
    if not _native(src, dst, _RENAME_NOREPLACE):
        os.mkdir(dst)  # the claim: atomic, and it fails when the name is taken
        os.rename(src, dst)  # POSIX rename replaces an empty folder in one step
    fsync_dir(dst.parent)


def exchange(src: Path, dst: Path) -> None:
    """Put folder src in dst's place in one step; src then holds the old version.
    FileNotFoundError when dst does not exist."""
    if not _native(src, dst, _RENAME_EXCHANGE):
        trash = dst.parent / f"{TRASH}{dst.name}-{token()}"
        with locked(dst):  # recover() leaves a locked trash folder alone: its writer is alive
            os.rename(dst, trash)
            os.rename(src, dst)
            os.rename(trash, src)
    fsync_dir(dst.parent)


def remove(folder: Path) -> None:
    """Delete a folder: renamed away in one step, then removed (a reader never sees half of it)."""
    gone = folder.parent / f"{DELETED}{folder.name}-{token()}"
    os.rename(folder, gone)
    fsync_dir(folder.parent)
    shutil.rmtree(gone, ignore_errors=True)


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive flock on a folder (it follows the folder through renames)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _abandoned(folder: Path) -> bool:
    """True when no live writer holds the folder's lock (or, without flock, when it is old)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return False
    try:
        if fcntl is None:
            return time.time() - os.fstat(fd).st_mtime > STALE_SECONDS
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def recover(root: Path) -> list[str]:
    """Clean what killed writers left in root; returns what was done, for logs and tests."""
    done = []
    if not root.is_dir():
        return done
    for entry in sorted(root.iterdir()):
        name = entry.name
        with contextlib.suppress(OSError):
            if not entry.is_dir() or entry.is_symlink():
                continue
            if name.startswith(TRASH):  # a portable overwrite died between its two renames
                model = root / name[len(TRASH) :].rsplit("-", 2)[0]
                if _abandoned(entry) and not model.exists():
                    publish(entry, model)
                    done.append(f"restored {model.name}")
                elif _abandoned(entry):
                    shutil.rmtree(entry)
                    done.append(f"removed {name}")
            elif name.startswith((TMP, DELETED)) and _abandoned(entry):
                shutil.rmtree(entry)
                done.append(f"removed {name}")
            elif not name.startswith(".") and not any(entry.iterdir()):
                entry.rmdir()  # a portable publish's claim whose writer died
                done.append(f"removed empty {name}")
    return done


def replace_file(path: Path, text: str) -> None:
    """Rewrite one file in one step: a durable temporary file renamed over it."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    fsync_file(tmp)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_file(path: Path) -> None:
    if not DURABLE:
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (created, renamed files) durable; a no-op where folders can't be opened."""
    if not DURABLE:
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_files(
    folder: Path,
    names: tuple[str, ...],
    *,
    optional: tuple[str, ...] = (),
    head: dict[str, int] | None = None,
    max_bytes: int | None = None,
    attempts: int = 3,
) -> dict[str, bytes | None]:
    """The bytes of names (None for a missing optional one; only the first head[name] bytes of
    those in head), all from one version of folder. FileNotFoundError when the folder or a required
    file is missing; ValueError for something that is not a regular file or exceeds max_bytes."""
    for attempt in range(attempts):
        try:
            return _read_once(folder, names, optional, head or {}, max_bytes)
        except FileNotFoundError:
            if attempt == attempts - 1 or not folder.is_dir():
                raise  # a version that vanished mid-read is retried: its successor is in place
    raise AssertionError("unreachable")


def _read_once(folder: Path, names, optional, head: dict[str, int], max_bytes) -> dict[str, bytes | None]:
    if os.open not in os.supports_dir_fd:
        return {n: _read(folder / n, None, n in optional, head.get(n), max_bytes) for n in names}
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        return {n: _read(n, fd, n in optional, head.get(n), max_bytes) for n in names}
    finally:
        os.close(fd)


def _read(path, dir_fd: int | None, optional: bool, head: int | None, max_bytes: int | None) -> bytes | None:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)  # a FIFO planted in a folder must not hang us
    try:
        fd = os.open(path, flags, dir_fd=dir_fd) if dir_fd is not None else os.open(path, flags)
    except FileNotFoundError:
        if optional:
            return None
        raise
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{os.fspath(path)} is not a regular file")
        if head is not None:
            return f.read(head)
        if max_bytes is not None and st.st_size > max_bytes:
            raise ValueError(f"{os.fspath(path)} is {st.st_size:,} bytes, over the limit of {max_bytes:,}")
        return f.read()
