"""Where a log directory's ring file lives, and making one: /dev/shm first, a file under the
state folder where /dev/shm is missing or too small.

The file is opened with `os.open` + `mmap` (see `Ring`), never `multiprocessing.shared_memory`:
on Python < 3.13 its resource tracker unlinks a segment when a process that merely attached
to it exits. Every page is reserved at creation (`posix_fallocate`), so a full tmpfs fails
here, never as a SIGBUS in a producer later.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import stat
import time
from pathlib import Path

from parquet_logger.errors import RingError
from parquet_logger.transport.statedir import StateDir, open_private

log = logging.getLogger("parquet_logger")


def open_existing(state: StateDir) -> tuple[Path, int] | None:
    """The path and an open descriptor of the directory's ring, or None if it has none."""
    for path in (state.shm_ring, state.file_ring):
        try:
            return path, open_private(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        except OSError:
            # The /dev/shm name is predictable: another user may own it, or have put a
            # symlink there. open_or_create then claims a private name instead.
            if path == state.file_ring or not _taken_by_another(path):
                raise
    return None


def _taken_by_another(path: Path) -> bool:
    """`path` exists and is not a plain file of this user (a symlink, or another user's)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    return stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid()


def open_or_create(state: StateDir, size: int, header: bytes) -> tuple[Path, int]:
    """Open the directory's ring, or create one of `size` bytes starting with `header`.

    Raises:
        RingError: neither /dev/shm nor the state folder can hold `size` bytes.
    """
    found = open_existing(state)
    if found is not None:
        return found
    lock_fd = open_private(state.ring_create_lock)
    try:
        # Creators serialize here; a loser finds the winner's ring on the second look.
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        found = open_existing(state)
        if found is not None:
            return found
        errors = []
        shm_ring = state.shm_ring
        if _taken_by_another(shm_ring):
            taken, shm_ring = shm_ring, state.claim_private_ring_name()
            log.warning(
                "%s is not this user's (another local user created it first); the ring of %s "
                "is %s instead, its name kept in the owner-only state folder",
                taken,
                state.log_dir,
                shm_ring,
            )
        for path in (shm_ring, state.file_ring):
            try:
                return path, _create(path, size, header)
            except OSError as exc:
                errors.append(f"{path}: {exc}")
        raise RingError(
            f"cannot reserve a ring of {size - len(header)} bytes ({'; '.join(errors)}); "
            "lower ring_size_bytes or free space in /dev/shm"
        )
    finally:
        os.close(lock_fd)


def quarantine(state: StateDir, path: Path, inode: int) -> str | None:
    """Move an unusable ring aside into the state folder (owner-only), for inspection.

    Only the file judged unusable (`inode`) is moved: under the ring-creation lock, a ring
    another process has put in its place meanwhile is left alone. Returns where it went (a
    path, or why it could not be kept, in which case it is removed all the same: a bad
    file at the ring's path must never make the directory unusable), or None when another
    process moved it already.
    """
    lock_fd = open_private(state.ring_create_lock)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        try:
            if os.lstat(path).st_ino != inode:
                return None
        except FileNotFoundError:
            return None
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        dest = state.root / f"ring.quarantined-{stamp}-{os.getpid()}"
        try:
            _move_private(path, dest)
        except OSError as exc:
            dest.unlink(missing_ok=True)
            path.unlink(missing_ok=True)
            return f"nowhere: it could not be kept ({exc}) and was removed"
        return str(dest)
    finally:
        os.close(lock_fd)


def _move_private(path: Path, dest: Path) -> None:
    """Move `path` to `dest` as an owner-only file: a rename within one file system, else a
    copy (a /dev/shm ring into the state folder) and an unlink."""
    try:
        os.rename(path, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        src = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            out = open_private(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            try:
                with open(src, "rb", closefd=False) as r, open(out, "wb", closefd=False) as w:
                    shutil.copyfileobj(r, w, 1024 * 1024)
            finally:
                os.close(out)
        finally:
            os.close(src)
        path.unlink()
    os.chmod(dest, 0o600)


def _create(path: Path, size: int, header: bytes) -> int:
    """Write the ring under a temporary name, then rename it into place: an attaching process
    never sees a file without its header."""
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path.parent} does not exist")
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.posix_fallocate(fd, 0, size)
        os.pwrite(fd, header, 0)
        os.replace(tmp, path)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    return fd
