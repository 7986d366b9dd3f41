"""One writer at a time per warehouse; readers only ever see a whole, published DuckDB file.

* **Writer lock** — ``<warehouse>/.writer.lock``, held with ``flock`` by the process writing the
  warehouse and recording its pid, start time and command. A second writer gets at once
  "a run is already writing to …, started at …, pid …". The kernel drops the lock when its
  holder dies (even by ``kill -9``), so a stale lock is simply taken over.
* **Staged copy** — a write session never touches the published ``xxgk.duckdb``: its first
  write copies it to ``.xxgk.duckdb.staged`` (a reflink where the file system can, else a
  plain copy) and every transaction of the session goes there; the writer's own reads go
  there too.
* **Publish** — at the end of the session the staged file is checkpointed, synced and renamed
  over ``xxgk.duckdb`` (atomic on POSIX). A reader that has the old file open keeps reading
  the old inode; a reader that opens it later gets the new file. Readers (``xxgk sql``,
  notebooks, BI tools, the DuckDB CLI with ``-readonly``) therefore never block a run and
  never see a half-written warehouse. A session that fails (disk full, an exception, ``kill
  -9``) publishes nothing: the staged file is dropped, at the latest by the next session.
* **Storage version** — new files are written in DuckDB storage ``STORAGE_VERSION`` so the
  DuckDB CLI release on the package registry opens them (``duckdb-cli`` 1.5.6 reads storage
  up to v1.5); a published file in a newer storage is migrated once, when it is next staged.

``xxgk run`` holds one session for the whole run, so it publishes once (one copy of the
database and one rename per run: the cost is in README, "Concurrency"). Code that writes
without an open session (a Dagster run launched from the UI) gets a session per transaction,
waiting up to ``XXGK_LOCK_WAIT`` seconds (default 600) for the lock.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

DB_FILE = "xxgk.duckdb"
LOCK_FILE = ".writer.lock"
STORAGE_VERSION = "v1.5.0"
_FICLONE = 0x40049409  # Linux ioctl: share the extents of a file (btrfs, xfs, bcachefs)


class WarehouseBusy(RuntimeError):
    """Another process is writing the warehouse."""


class StorageError(RuntimeError):
    """The warehouse cannot be written (disk full, read-only, missing directory); the message is one line."""


def published_path(warehouse: Path) -> Path:
    """The published DuckDB file, the one readers open."""
    return Path(warehouse) / DB_FILE


def staged_path(warehouse: Path) -> Path:
    """The private working copy of a write session."""
    return Path(warehouse) / f".{DB_FILE}.staged"


def temp_path(path: Path) -> Path:
    """Where to write ``path`` before renaming it into place: ``.<name>.<pid>.tmp`` (cleaned up when its pid is gone)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@dataclass
class _Session:
    warehouse: Path
    lock_fd: int
    staged: bool = False
    migrate: bool = False
    failed: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    on_success: list = field(default_factory=list)  # callables run after the publish, still under the lock


_sessions: dict[Path, _Session] = {}  # this process's open sessions, by warehouse


def _key(warehouse: Path) -> Path:
    return Path(os.path.abspath(warehouse))


@contextmanager
def writer_session(warehouse: Path, wait: float = 0.0, command: str | None = None) -> Iterator[_Session]:
    """Hold the warehouse's writer lock; publish the staged database when the outermost session ends without error.

    Re-entrant within a process. ``wait``: seconds to wait for another writer (0 = fail at
    once with ``WarehouseBusy``). Raises ``StorageError`` when the directory cannot be
    written. Stale temporary files of dead processes are removed when the lock is taken.
    """
    key = _key(warehouse)
    session = _sessions.get(key)
    if session is not None:  # nested: the outermost session publishes
        yield session
        return
    session = _Session(key, _lock(key, wait, command))
    _sessions[key] = session
    try:
        session.notes.extend(clean_stale(key))
        session.migrate = not _readable_by_cli(published_path(key))
        try:
            yield session
        except BaseException:
            _discard(key)
            raise
        if session.staged and not session.failed:
            _publish(key)
        else:
            _discard(key)
        if not session.failed:
            for hook in session.on_success:
                hook()
    finally:
        _sessions.pop(key, None)
        _unlock(session.lock_fd)


def publish_now(warehouse: Path) -> bool:
    """Inside a write session (nested or not): publish what it staged so far, so readers see it now; a later write
    of the session stages a fresh copy. Nothing when nothing is staged or a storage failure marked the session.
    Returns whether it published."""
    session = current_session(warehouse)
    if session is None or not session.staged or session.failed:
        return False
    _publish(session.warehouse)
    session.staged = session.migrate = False
    return True


def current_session(warehouse: Path) -> _Session | None:
    """This process's open write session on ``warehouse``, if any."""
    return _sessions.get(_key(warehouse))


def read_path(warehouse: Path) -> Path:
    """The file to read: the session's staged copy inside this process's write session, else the published file."""
    session = current_session(warehouse)
    if session is not None and session.staged:
        return staged_path(warehouse)
    return published_path(warehouse)


@contextmanager
def writable(warehouse: Path) -> Iterator[Path]:
    """The path of the database to write (the staged copy), inside a write session (one is opened if needed).

    A storage failure inside marks the session failed: it will not be published.
    """
    wait = float(os.environ.get("XXGK_LOCK_WAIT", "600"))
    with writer_session(warehouse, wait=wait) as session:
        path = _stage(session)
        try:
            yield path
        except BaseException as exc:
            if storage_problem(exc):
                session.failed.append(exc)
            raise


# ----------------------------------------------------------------------------------------------
# the lock


def _lock(warehouse: Path, wait: float, command: str | None) -> int:
    if not warehouse.is_dir():
        if not warehouse.parent.is_dir():
            raise StorageError(f"cannot create the warehouse directory {warehouse}: {warehouse.parent} does not exist")
        try:
            warehouse.mkdir()
        except FileExistsError:
            pass
        except OSError as exc:
            raise StorageError(f"cannot create the warehouse directory {warehouse}: {exc.strerror}") from exc
    path = warehouse / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise StorageError(f"cannot write to the warehouse directory {warehouse}: {exc.strerror}") from exc
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = _read_holder(fd)
                os.close(fd)
                raise WarehouseBusy(busy_message(warehouse, holder)) from None
            time.sleep(0.2)
    info = {"pid": os.getpid(), "host": socket.gethostname(), "started": datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])}
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info, ensure_ascii=False).encode(), 0)
    except OSError as exc:
        _unlock(fd)
        raise StorageError(f"cannot write to the warehouse directory {warehouse}: {exc.strerror}") from exc
    return fd


def _unlock(fd: int) -> None:
    try:
        os.ftruncate(fd, 0)  # empty = nobody writing
    except OSError:
        pass
    os.close(fd)  # closing releases the flock


def _read_holder(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}


def busy_message(warehouse: Path, holder: dict) -> str:
    """"a run is already writing to …, started at …, pid …" from the lock file's record."""
    started = holder.get("started", "an unknown time").replace("T", " ")
    where = f" on {holder['host']}" if holder.get("host") not in (None, socket.gethostname()) else ""
    what = f" ({holder['command']})" if holder.get("command") else ""
    return (f"a run is already writing to {warehouse}, started at {started}, pid {holder.get('pid', '?')}{where}{what}; "
            "wait for it to finish (readers are not affected)")


def writer_of(warehouse: Path) -> dict | None:
    """The record of the process holding the writer lock, or None when nobody is writing."""
    path = Path(warehouse) / LOCK_FILE
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        return None
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------------------------
# staging and publishing


def _stage(session: _Session) -> Path:
    """Create the staged copy at the session's first write (copy, migrate or new) and return its path."""
    staged = staged_path(session.warehouse)
    if session.staged:
        return staged
    import duckdb

    published = published_path(session.warehouse)
    try:
        if not published.exists():
            duckdb.connect(str(staged), config={"storage_compatibility_version": STORAGE_VERSION}).close()
        elif session.migrate:
            _migrate(published, staged)
        else:
            _clone(published, staged)
            wal = published.with_name(published.name + ".wal")
            if wal.exists():  # left by an old writer or a read-write client: replayed into the copy
                _clone(wal, staged.with_name(staged.name + ".wal"))
    except BaseException:
        _discard(session.warehouse)
        raise
    session.staged = True
    return staged


def _readable_by_cli(path: Path) -> bool:
    """Whether the published file is in a storage the DuckDB CLI release reads (True when there is no file).

    Refuses to go on while another program has the file open read-write: a copy of it could be torn.
    """
    import duckdb

    if not path.exists():
        return True
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        holder = str(exc).split("Conflicting lock is held in", 1)[-1].split(". See also")[0].strip()
        raise WarehouseBusy(f"the published warehouse {path} is open read-write by another program ({holder}); "
                            "close it — readers should open it read-only") from None
    try:
        tags = con.execute("SELECT tags FROM duckdb_databases() WHERE NOT internal AND database_name = current_database()").fetchone()
    finally:
        con.close()
    version = (tags[0] or {}).get("storage_version", "") if tags else ""
    return _version_tuple(version) <= _version_tuple(STORAGE_VERSION)


def _version_tuple(text: str) -> tuple[int, ...]:
    digits = "".join(ch if ch.isdigit() or ch == "." else " " for ch in text).split()
    return tuple(int(x) for x in digits[0].split(".") if x) if digits else (99,)


def _migrate(published: Path, staged: Path) -> None:
    """Copy every table and view into a new file in ``STORAGE_VERSION``."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{_sql(published)}' AS old (READ_ONLY)")
        con.execute(f"ATTACH '{_sql(staged)}' AS new (STORAGE_VERSION '{STORAGE_VERSION}')")
        con.execute("COPY FROM DATABASE old TO new")
    finally:
        con.close()


def _clone(src: Path, dst: Path) -> None:
    """Copy a file: a reflink when the file system supports it, else an in-kernel copy."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        try:
            fcntl.ioctl(fout.fileno(), _FICLONE, fin.fileno())
            return
        except OSError:
            pass
    shutil.copyfile(src, dst)  # sendfile: the bytes never pass through Python


def _publish(warehouse: Path) -> None:
    """Checkpoint the staged file, sync it and rename it over the published one."""
    import duckdb

    staged, published = staged_path(warehouse), published_path(warehouse)
    try:
        con = duckdb.connect(str(staged))  # replays and folds a WAL, if any, so the file stands alone
        try:
            con.execute("CHECKPOINT")
        finally:
            con.close()
        fd = os.open(staged, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        stale_wal = published.with_name(published.name + ".wal")
        if stale_wal.exists():  # was copied into the staged file; must not be replayed onto the new one
            stale_wal.unlink()
        os.replace(staged, published)
        dir_fd = os.open(warehouse, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        _discard(warehouse)
        raise


def _discard(warehouse: Path) -> None:
    staged = staged_path(warehouse)
    for path in (staged, staged.with_name(staged.name + ".wal")):
        if path.exists():
            path.unlink()
    shutil.rmtree(staged.with_name(staged.name + ".tmp"), ignore_errors=True)


def clean_stale(warehouse: Path) -> list[str]:
    """Remove what an interrupted writer left: the staged database, and ``temp_path`` files of dead processes.

    Returns a note for the user when something was removed.
    """
    warehouse = Path(warehouse)
    removed = list(warehouse.glob(f".{DB_FILE}.staged*"))
    _discard(warehouse)
    for folder, subfolders, files in os.walk(warehouse):
        subfolders[:] = [d for d in subfolders if d != ".dagster"]  # Dagster's own storage
        for name in files:
            pid = name.rsplit(".", 2)[-2] if name.startswith(".") and name.endswith(".tmp") else ""
            if pid.isdigit() and not _alive(int(pid)):
                Path(folder, name).unlink(missing_ok=True)
                removed.append(name)
    return [f"removed {len(removed)} temporary file(s) left by an interrupted run"] if removed else []


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sql(path: Path) -> str:
    return str(path).replace("'", "''")


# ----------------------------------------------------------------------------------------------
# errors of the storage underneath


_STORAGE_ERRNOS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EIO: "an input/output error",
}


def storage_problem(error) -> str | None:
    """"the disk is full" (etc.) when an exception — or Dagster's record of one — comes from the storage, else None.

    Follows the chain of causes; recognises OSError numbers and the system's error texts
    (DuckDB and Dagster pass those on in their messages).
    """
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in _STORAGE_ERRNOS:
            return _STORAGE_ERRNOS[error.errno]
        text = str(getattr(error, "message", None) or error)
        for number, meaning in _STORAGE_ERRNOS.items():
            if os.strerror(number) in text:
                return meaning
        error = getattr(error, "cause", None) or getattr(error, "__cause__", None) or getattr(error, "__context__", None) \
            or getattr(error, "context", None)
    return None
