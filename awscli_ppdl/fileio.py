"""Temp files beside the destination: naming, creation, writes, rename, clean-up.

The rules that keep a failed or interrupted download from leaving anything
behind:

* the bytes go to ``<destination>.<8 random hex digits>.ppcp-tmp`` in the same
  directory (the destination's name cut to fit in NAME_MAX), so the final
  ``os.replace`` is atomic and a leftover is easy to recognise;
* a temp file is created by the worker whose GET's response has arrived,
  not when the download is queued: a process killed outright (SIGKILL, no
  clean-up at all) leaves at most one per GET in flight;
* each worker process remembers the temp files it opened, so if the parent
  dies it removes every one that was never renamed;
* only the parent renames a temp file into place, after checking its size, so
  nothing can appear at a destination once the parent is gone; it removes a
  temp file only once every GET of its download has ended, so none is
  created again behind it.

A resumable download (``resume``) is the exception: its temp file is
``<destination>.ppcp-tmp``, named by the parent, and kept (by the parent,
and by the workers when the parent dies) for the next run to resume.
"""
import errno
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time

TEMP_SUFFIX = '.ppcp-tmp'


class SizeMismatchError(Exception):
    """The assembled file is not as long as the object: never rename it."""


# The longest file name (in bytes) of the file systems a download writes to.
NAME_MAX = 255


def temp_filename_for(filename):
    """``filename`` plus the temp suffix, its name cut (by whole characters)
    so that the whole fits in NAME_MAX bytes: a destination whose name is
    already NAME_MAX long can still be written (as s3transfer shortens its
    own temp names)."""
    suffix = f'.{secrets.token_hex(4)}{TEMP_SUFFIX}'
    directory, name = os.path.split(filename)
    while name and len(os.fsencode(name + suffix)) > NAME_MAX:
        name = name[:-1]
    return os.path.join(directory, name + suffix)


def open_temp_file(temp_filename, size=None):
    """Open a temp file for writing, creating it if no GET of its download
    has yet; reserve ``size`` bytes when it is known.

    Each part's worker reserves the whole file (the same size every time, so
    it never cuts what another part wrote): ``posix_fallocate`` makes a full
    disk fail here, before the part's bytes are received, instead of halfway
    through them.
    """
    fd = os.open(temp_filename, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        if size:
            try:
                os.posix_fallocate(fd, 0, size)
            except OSError as e:
                if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                os.ftruncate(fd, size)
    except BaseException:
        os.close(fd)
        raise
    return fd


def pwrite_all(fd, data, offset):
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def finalize(temp_filename, filename, expected_size):
    """Move a complete temp file into place, or refuse and remove it."""
    try:
        actual_size = os.stat(temp_filename).st_size
        if expected_size is not None and actual_size != expected_size:
            raise SizeMismatchError(
                f'Downloaded {actual_size} bytes but the object has '
                f'{expected_size} bytes; the file was not written.'
            )
        os.replace(temp_filename, filename)
    except BaseException:
        remove_quietly(temp_filename)
        raise


def remove_quietly(filename):
    try:
        os.unlink(filename)
    except FileNotFoundError:
        pass
    except OSError:
        pass


class TempFileRegistry:
    """The temp files one process opened, so it can remove them if orphaned.

    Files are opened under a lock that ``remove_all`` keeps: no file can be
    created after the orphan clean-up.
    A name that no longer exists was renamed into place or removed by the
    parent; it is forgotten the next time the registry grows past its bound,
    so a long-lived downloader does not accumulate names.
    """

    def __init__(self, prune_at=4096):
        self._names = set()
        self._prune_at = prune_at
        self._lock = threading.Lock()

    def open(self, temp_filename, size=None, remember=True):
        """``open_temp_file``, remembered unless ``remember`` is False (a
        resumable download's temp file, kept for a rerun whoever dies);
        returns the descriptor."""
        with self._lock:
            try:
                return open_temp_file(temp_filename, size)
            finally:
                # Even if reserving failed: the file was created.
                if remember:
                    self._names.add(temp_filename)
                if len(self._names) >= self._prune_at:
                    self._names = {n for n in self._names
                                   if os.path.lexists(n)}
                    self._prune_at = max(self._prune_at, 2 * len(self._names))

    def remove_all(self):
        """For good: the parent is gone, and nothing is opened after this."""
        self._lock.acquire()
        for name in self._names:
            remove_quietly(name)
        self._names.clear()

    def __len__(self):
        return len(self._names)


# The private directories of a downloader: ``ppcp-XXXX`` (the monitor's
# socket, where it is a file) and, beside it, ``ppcp-stream-XXXX-YYYY`` for
# each stream (ranges waiting to be written). Both are named after the same
# token, so that the monitor process can remove them all when the parent is
# killed.
WORK_DIR_PREFIX = 'ppcp-'
STREAM_DIR_PREFIX = 'ppcp-stream-'
_REMOVE_ATTEMPTS = 5


def new_work_dir():
    """A downloader's work directory and the address of its monitor.

    On Linux the monitor listens on an abstract socket, which lives only as
    long as its process: the work directory is only a name, which its
    streams' directories are named after, so a SIGKILL of the whole group
    leaves no empty ``ppcp-*`` directory behind. Elsewhere the
    socket is a file in the directory, which the parent removes (the
    monitor does, if the parent is killed).
    """
    if sys.platform.startswith('linux'):
        work_dir = os.path.join(tempfile.gettempdir(),
                                WORK_DIR_PREFIX + secrets.token_hex(8))
        return work_dir, '\0' + work_dir
    work_dir = tempfile.mkdtemp(prefix=WORK_DIR_PREFIX)
    return work_dir, os.path.join(work_dir, 'monitor')


def stream_dir_prefix(work_dir):
    token = os.path.basename(work_dir)[len(WORK_DIR_PREFIX):]
    return f'{STREAM_DIR_PREFIX}{token}-'


def remove_work_dirs(work_dir):
    """Remove a downloader's directories, its streams' included."""
    parent = os.path.dirname(work_dir)
    prefix = stream_dir_prefix(work_dir)
    streams = [os.path.join(parent, name) for name in os.listdir(parent)
               if name.startswith(prefix)]
    for path in (work_dir, *streams):
        remove_tree(path)


def remove_tree(path):
    """``rmtree``, again if a file appeared in it meanwhile (ENOTEMPTY): a
    child that has not noticed yet may still be creating one."""
    for _ in range(_REMOVE_ATTEMPTS):
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.lexists(path):
            return
        time.sleep(0.05)
