"""Where a log directory keeps its machinery: the state folder, lock files, ring and journal.

Everything lives under `<log_dir>/_parquet_logger/<host>/` (the `_` prefix hides it from
pyarrow and pandas; one folder per host so a log directory on a network share does not make
two hosts' writers fight over one lock). The ring itself is in `/dev/shm` when it can be.
All of it is owner-only (0700 folders, 0600 files); Parquet data follows the user's umask.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

STATE_FOLDER = "_parquet_logger"
SHM_ROOT = Path("/dev/shm")


def host_name() -> str:
    """This host's name, made safe for file names and S3 keys."""
    raw = socket.gethostname() or "host"
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in raw)[:64]


@dataclass(frozen=True)
class StateDir:
    """The paths of one log directory's state folder on this host."""

    log_dir: Path
    root: Path

    @classmethod
    def for_log_dir(cls, log_dir: str | os.PathLike[str]) -> StateDir:
        """Resolve the state folder of `log_dir` (which need not exist yet)."""
        resolved = Path(os.path.abspath(os.fspath(log_dir)))
        return cls(log_dir=resolved, root=resolved / STATE_FOLDER / host_name())

    def ensure(self) -> None:
        """Create the log directory (umask) and the state folder (0700).

        The log directory may be shared with other users (a sticky /tmp-like folder): the
        state folders are never followed through a symlink and must belong to this user, so
        nobody else can redirect the chmod to 0700 or the lock and ring files elsewhere.

        Raises:
            PermissionError: a state folder is a symlink or belongs to another user.
            OSError: the directory cannot be created or written.
        """
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for folder in (self.root.parent, self.root):
            make_private_folder(folder)

    @property
    def key(self) -> str:
        """A short stable name for this directory, used to name its shared-memory ring."""
        digest = hashlib.sha256(os.fsencode(self.root)).hexdigest()[:20]
        return f"parquet-logger-{os.getuid()}-{digest}"

    @property
    def shm_ring(self) -> Path:
        """The ring in /dev/shm: its stable name, or the private name that replaced it when
        another user had taken the stable one (see `claim_private_ring_name`)."""
        try:
            name = self.ring_name_file.read_text().strip()
        except OSError:
            return SHM_ROOT / self.key
        if _PRIVATE_RING_NAME.fullmatch(name) and name.startswith(self.key + "-"):
            return SHM_ROOT / name
        return SHM_ROOT / self.key

    @property
    def ring_name_file(self) -> Path:
        """Holds the ring's private /dev/shm name once the stable name was found taken."""
        return self.root / "ring.name"

    def claim_private_ring_name(self) -> Path:
        """Replace the ring's predictable /dev/shm name by one with a random part, recorded in
        the owner-only state folder (so only this user's processes can find it).

        The stable name is predictable: another local user can create it first. Called under
        the ring-creation lock, by the process that found the name taken.
        """
        name = f"{self.key}-{secrets.token_hex(8)}"
        write_private(self.ring_name_file, name.encode(), fsync=True)
        return SHM_ROOT / name

    @property
    def file_ring(self) -> Path:
        """Fallback ring where /dev/shm is missing or too small."""
        return self.root / "ring.mmap"

    @property
    def ring_lock(self) -> Path:
        """flock'ed by a producer around each put: the kernel releases it if the holder dies."""
        return self.root / "ring.lock"

    @property
    def ring_create_lock(self) -> Path:
        return self.root / "ring.create.lock"

    @property
    def writer_lock(self) -> Path:
        """Held (LOCK_EX) by the live writer for its whole life: the liveness truth."""
        return self.root / "writer.lock"

    @property
    def producers_lock(self) -> Path:
        """Held shared (LOCK_SH) by every attached producer process."""
        return self.root / "producers.lock"

    @property
    def journal(self) -> Path:
        """The writer's commit journal: which files hold the ring up to which position."""
        return self.root / "commit.json"

    @property
    def compaction_journal(self) -> Path:
        """A compaction's journal: the merged files and the files they replace."""
        return self.root / "compact.json"

    @property
    def compaction_lock(self) -> Path:
        """flock'ed by a running compaction (one at a time per host and directory)."""
        return self.root / "compact.lock"

    @property
    def status(self) -> Path:
        return self.root / "status.json"

    @property
    def writer_settings(self) -> Path:
        return self.root / "writer.json"

    @property
    def writer_log(self) -> Path:
        return self.root / "writer.log"

    @property
    def upload_error(self) -> Path:
        """The detail of the writer's last definitive upload failure."""
        return self.root / "upload_error.json"


_PRIVATE_RING_NAME = re.compile(r"parquet-logger-\d+-[0-9a-f]{20}-[0-9a-f]{16}")


def make_private_folder(folder: Path) -> None:
    """Create `folder` (0700) or check the existing one: a real directory (not a symlink)
    owned by this user, then made 0700 through its own descriptor (never through a path a
    symlink could redirect).

    Raises:
        PermissionError: `folder` is a symlink, not a directory, or another user's.
    """
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder, 0o700)
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if os.path.islink(folder):
            raise PermissionError(
                f"{folder} is a symlink (to {os.readlink(folder)!r}); parquet-logger never "
                "follows a symlink for its state folder: remove it"
            ) from None
        raise PermissionError(
            f"{folder} is not a directory parquet-logger can use: {exc}"
        ) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISDIR(st.st_mode):
            raise PermissionError(f"{folder} is not a directory")
        if st.st_uid != os.getuid():
            raise PermissionError(
                f"{folder} belongs to uid {st.st_uid}, not to this user ({os.getuid()}); "
                "parquet-logger keeps its state only in folders of its own: remove it or use "
                "another log_dir"
            )
        if stat.S_IMODE(st.st_mode) != 0o700:
            os.fchmod(fd, 0o700)
    finally:
        os.close(fd)


def open_private(path: Path, flags: int = os.O_RDWR | os.O_CREAT) -> int:
    """Open (creating) an owner-only file, refusing symlinks and files of other users."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    st = os.fstat(fd)
    if st.st_uid != os.getuid():
        os.close(fd)
        raise PermissionError(f"{path} belongs to uid {st.st_uid}, not to this user")
    if st.st_mode & 0o077:
        os.fchmod(fd, 0o600)
    return fd


def write_private(path: Path, data: bytes, *, fsync: bool = False) -> None:
    """Replace `path` with `data` atomically (temporary file, rename), owner-only.

    `fsync` makes the file's content durable before the rename; a caller that needs the
    rename itself durable follows with `fsync_dir(path.parent)` (once for many files).
    """
    tmp = path.with_name(path.name + ".tmp")
    fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(fd, data)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def fsync_dir(path: Path) -> None:
    """Make the renames and creations in a folder durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_json_object(path: Path) -> dict[str, Any]:
    """A state file's JSON object, or {} when it is missing, torn or not an object."""
    try:
        value = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}
