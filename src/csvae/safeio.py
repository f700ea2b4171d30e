"""Files a user (or another process) may have made anything of: read only bounded regular files,
keep paths inside their root, and let one writer at a time hold a folder.

``read_bounded`` and ``read_json`` refuse a FIFO, a device (``/dev/zero``), a folder or a file
over its size bound with a DataError naming the path, before reading a byte of it; ``inside_root``
resolves symlinks and refuses a path that leaves its root; ``FolderLock`` is an exclusive lock on
a folder (its ``.csvae.lock`` file): a second writer is refused naming the holder's PID, and the
lock of a killed process is released by the kernel, so it never goes stale.
"""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

from csvae.data.checks import DataError

MAX_JSON_BYTES = 64 << 20
"""Largest JSON file of a run or experiment read (metrics.json, data.json, experiment.json)."""
MAX_JSON_DEPTH = 64
"""Deepest nesting of JSON arrays and objects read (csvae's own metrics.json nests 6 deep)."""
LOCK_NAME = ".csvae.lock"


def check_regular(path: str | os.PathLike, what: str = "file") -> os.stat_result:
    """The stat of ``path`` (symlinks followed) when it is a regular file; DataError naming it
    otherwise (FileNotFoundError when it does not exist)."""
    info = os.stat(path)
    _refuse_special(path, info.st_mode, what)
    return info


def _refuse_special(path, mode: int, what: str) -> None:
    """DataError naming ``path`` unless ``mode`` is that of a regular file."""
    if stat.S_ISREG(mode):
        return
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    kind = next((name for test, name in kinds if test(mode)), "not a plain file")
    raise DataError(f"{path} is not a regular file (it is {kind}); a {what} must be one")


def read_bounded(path: str | os.PathLike, limit: int, what: str = "file") -> bytes:
    """The bytes of regular file ``path``, at most ``limit`` of them: a FIFO, device or folder is
    refused without blocking, and a larger file (also one that grows while read) with a DataError
    naming it. FileNotFoundError when it does not exist."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as handle:
        _refuse_special(path, os.fstat(fd).st_mode, what)
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise DataError(f"{path} is larger than {limit} bytes, the most a {what} may hold")
    return data


def read_json(path: str | os.PathLike, what: str = "JSON file", limit: int = MAX_JSON_BYTES):
    """The value of strict JSON file ``path`` (see ``parse_json``; a regular file of at most
    ``limit`` bytes); DataError naming it otherwise."""
    data = read_bounded(path, limit, what)
    try:
        return parse_json(data)
    except ValueError as err:
        raise DataError(f"{path} is not a {what}: {err}") from None


def parse_json(data: bytes):
    """The value of strict JSON ``data``: UTF-8, no NaN or Infinity, at most ``MAX_JSON_DEPTH``
    deep (counted before parsing, so 100,000 levels cost no recursion), integers of at most 4300
    digits; ValueError saying what is wrong otherwise."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"it is not UTF-8 text ({err})") from None
    depth = _depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"it nests {depth} levels deep, more than {MAX_JSON_DEPTH}")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        raise ValueError(f"it is not JSON ({err})") from None


def _refuse_constant(name: str):
    raise ValueError(f"it holds {name}, which JSON does not have (csvae writes null)")


def _depth(text: str) -> int:
    """The deepest nesting of brackets in JSON ``text`` outside strings (counted before parsing, so
    a file nested 100,000 deep is refused without recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            escaped = not escaped and char == "\\"
            in_string = escaped or char != '"'
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def inside_root(path: str | os.PathLike, root: str | os.PathLike, what: str) -> Path:
    """``path`` with every symlink resolved, refused (DataError naming ``what``) when it leaves
    ``root`` (resolved too)."""
    real, base = Path(path).resolve(), Path(root).resolve()
    if real != base and base not in real.parents:
        raise DataError(f"{what} {path} leads to {real}, outside {base}; a symlink may not leave its folder")
    return real


class FolderError(RuntimeError):
    """A folder another process is writing (the message names the folder and its PID)."""


class FolderLock:
    """The exclusive lock of a folder (made if missing), held from ``acquire`` until ``release``,
    until the object is dropped, or until the process ends (the kernel then releases it: a lock
    never outlives its holder; a killed holder leaves only a lock file the next one takes over).
    Released, the lock file is removed, and so is a folder ``acquire`` made and nothing filled.
    Within one process, locks on one folder share it (the registry ``_held``: descriptor and
    count), so one process never refuses itself."""

    _held: dict[Path, list] = {}

    def __init__(self, folder: str | os.PathLike, what: str = "folder"):
        self.folder, self.what = Path(folder), what
        self.key: Path | None = None
        self.created = False

    def acquire(self) -> "FolderLock":
        """Take the lock; FolderError naming the holder's PID when another process has it."""
        if self.folder.exists() and not self.folder.is_dir():
            raise FolderError(f"{self.folder} is a file; the {self.what} must be a folder")
        self.created = not self.folder.exists()
        self.folder.mkdir(parents=True, exist_ok=True)
        key = self.folder.resolve()
        if key not in self._held:
            self._held[key] = [_lock_file(key / LOCK_NAME, self.folder, self.what), 0]
        self._held[key][1] += 1
        self.key = key
        return self

    def release(self) -> None:
        """Let the lock go (the last of this process's locks on the folder removes the lock file)."""
        key, self.key = self.key, None
        if key is None or key not in self._held:
            return
        entry = self._held[key]
        entry[1] -= 1
        if entry[1] > 0:
            return
        del self._held[key]
        (key / LOCK_NAME).unlink(missing_ok=True)  # while still held: see _lock_file
        os.close(entry[0])  # closing the file releases its lock
        if self.created and not any(key.iterdir()):
            key.rmdir()

    def __del__(self):
        self.release()

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def lock_holder(folder: str | os.PathLike) -> str | None:
    """Who holds the ``FolderLock`` of ``folder`` ("PID 123 on host"), found without taking the
    lock or writing anything: the lock file's text when the kernel lists a lock on that file in
    /proc/locks; None when there is no lock file or no lock on it (a killed holder's file). Where
    /proc/locks cannot be read, a lock file is taken as held (a stale one cannot be told apart)."""
    path = Path(folder) / LOCK_NAME
    try:
        info = os.stat(path)
        holder = read_bounded(path, 200, "lock file").decode("utf-8", "replace").strip() or "an unknown process"
    except FileNotFoundError:
        return None
    except (OSError, DataError) as err:
        return f"a process csvae cannot name ({err})"
    try:
        locks = Path("/proc/locks").read_text(encoding="ascii", errors="replace")
    except OSError:
        return holder
    key = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    return holder if any(key in line.split() for line in locks.splitlines()) else None


def _lock_file(path: Path, folder: Path, what: str) -> int:
    """A descriptor of lock file ``path`` holding an exclusive flock, with this process's PID and
    host written in it; FolderError naming the holder when another process has the lock."""
    import fcntl

    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "an unknown process"
            os.close(fd)
            raise FolderError(f"the {what} {folder} is in use by another csvae process ({holder}); wait for it "
                              f"to finish, or choose another folder") from None
        if path.exists() and os.stat(path).st_ino == os.fstat(fd).st_ino:
            break
        os.close(fd)  # locked a file its holder removed on release: lock the new one
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"PID {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
    return fd
