"""Resumable downloads: which ones are, the record of finished parts kept
beside a temp file, the lock that makes one run at a time its writer, and
what a rerun trusts of them.

An object fetched in parts (at or above the multipart threshold, to a
regular file, with a known size and ETag) is written to
``<destination>.ppcp-tmp`` (no random part: the next run must find it),
and its parts are listed in ``<destination>.ppcp-resume``, a text file:

* a first line, JSON: the format (``ppcp-resume/1``), the object (bucket,
  key, version, ETag, size, LastModified) and the part size;
* ``boot <id>``: written by each run that uses the record, with the boot
  id of the machine (``/proc/sys/kernel/random/boot_id``);
* ``part <index> <algorithm> <crc>``: appended by a worker once the part's
  bytes are in the temp file (its CRC when the full-object checksum is
  checked, else ``- -``), with one ``write`` in ``O_APPEND`` mode: a
  process killed at any moment leaves whole lines;
* ``synced``: appended when a run keeps the partial download on its way
  out (Ctrl-C, SIGTERM, a failure), after ``fdatasync`` of the temp file,
  and followed by an ``fsync`` of the record.

Nothing is synced while the parts arrive (an ``fdatasync`` per part would
make every large download wait for the disk). What a rerun trusts is what
cannot have been lost: parts listed before a ``synced`` line (on disk), and
the others only if the machine has not restarted since (same boot id: the
page cache survives any process's death, not a power loss or a kernel
crash). Untrusted parts are fetched again. A record that cannot be read
whole (a line torn by a power loss too) is not trusted at all.

The parent holds an exclusive ``flock`` on the record for the whole
download, so a second run on the same destination fails at once instead of
writing the same temp file; the kernel releases it when the holder dies.
"""
import errno
import fcntl
import json
import os
import threading
from typing import NamedTuple, Optional

from awscli_ppdl.fileio import NAME_MAX, TEMP_SUFFIX, remove_quietly

RECORD_SUFFIX = '.ppcp-resume'
FORMAT = 'ppcp-resume/1'
BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id'
# The most resumable downloads in flight at once: each holds its record
# open (and locked) in the parent, and the request queue alone could hold
# a thousand of them, enough to reach a soft limit of 1024 open files. A
# submission waits for one to end beyond it; the workers have parts of
# the others to fetch meanwhile.
MAX_OPEN_PARTIALS = 256


class DestinationLockedError(Exception):
    """Another run holds the record's lock: it is downloading to the same
    destination."""


class ObjectIdentity(NamedTuple):
    """What a record must match to be resumed: the same object, fetched
    in the same parts."""

    bucket: str
    key: str
    version_id: Optional[str]
    etag: str
    size: int
    last_modified: Optional[str]
    part_size: int

    def part_length(self, index):
        return min(self.part_size, self.size - index * self.part_size)

    def header(self):
        return json.dumps(dict(format=FORMAT, **self._asdict()),
                          sort_keys=True)


def resumable_names(filename):
    """``(temp file, record)`` of a destination: its name plus each suffix,
    cut alike (by whole characters) so that both fit in NAME_MAX bytes."""
    directory, name = os.path.split(filename)
    longest = max(TEMP_SUFFIX, RECORD_SUFFIX, key=len)
    while name and len(os.fsencode(name + longest)) > NAME_MAX:
        name = name[:-1]
    base = os.path.join(directory, name)
    return base + TEMP_SUFFIX, base + RECORD_SUFFIX


def current_boot_id():
    """The machine's boot id, or '-' where there is none to read (then
    only synced parts are ever trusted)."""
    try:
        with open(BOOT_ID_FILE) as f:
            return f.read().strip() or '-'
    except OSError:
        return '-'


def record_part(record_filename, index, crc=None):
    """Append a finished part's line (in a worker, once its bytes are
    written). ``crc``: ``(algorithm, value)``. A record that is gone (the
    download was discarded meanwhile) is not created again; a part that
    could not be recorded is only fetched again by a rerun."""
    algorithm, value = crc if crc is not None else ('-', '-')
    line = f'part {index} {algorithm} {value}\n'.encode()
    try:
        fd = os.open(record_filename, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.write(fd, line)
    except OSError:
        pass
    finally:
        os.close(fd)


class _Unusable(Exception):
    """Why a record cannot be resumed: the notice's words."""


def _parse(text, identity, boot_id, this_run=False):
    """``{index: crc or None}`` of the parts a record lets a rerun trust
    (``this_run``: the run that wrote its last parts, which trusts them);
    raises ``_Unusable`` with the reason it cannot be used at all."""
    lines = text.split('\n')
    if lines[-1] != '':
        raise _Unusable('its record is truncated')
    try:
        header = json.loads(lines[0])
    except ValueError:
        raise _Unusable('its record is unreadable') from None
    if not isinstance(header, dict) or header.get('format') != FORMAT:
        raise _Unusable('its record is of another format')
    try:
        recorded = ObjectIdentity(**{
            name: header[name] for name in ObjectIdentity._fields})
    except (KeyError, TypeError):
        raise _Unusable('its record is unreadable') from None
    if (recorded.bucket, recorded.key, recorded.version_id) != (
            identity.bucket, identity.key, identity.version_id):
        raise _Unusable('its record is of another object')
    if (recorded.etag, recorded.size, recorded.last_modified) != (
            identity.etag, identity.size, identity.last_modified):
        raise _Unusable('the object has changed since (its ETag, size or '
                        'LastModified)')
    if recorded.part_size != identity.part_size:
        raise _Unusable('it was fetched in parts of another size')
    num_parts = -(-identity.size // identity.part_size)
    # Parts written since the last ``synced`` line survive only as long
    # as the boot they were written in: each ``boot`` line that names
    # another one (or none) drops them.
    trusted, unsynced, run_boot, seen = {}, {}, None, False
    for line in lines[1:-1]:
        fields = line.split(' ')
        if fields == ['synced']:
            trusted.update(unsynced)
            unsynced = {}
        elif fields[0] == 'boot' and len(fields) == 2:
            if fields[1] != run_boot or run_boot == '-':
                unsynced = {}
            run_boot = fields[1]
        elif fields[0] == 'part' and len(fields) == 4:
            unsynced.update(_part(fields[1:], num_parts))
            seen = True
        else:
            raise _Unusable('its record is damaged')
    if this_run or (run_boot == boot_id and boot_id != '-'):
        trusted.update(unsynced)
    if seen and not trusted:
        raise _Unusable('the machine has restarted since its parts were '
                        'written, and they were not synced to disk')
    return trusted


def _part(fields, num_parts):
    index, algorithm, value = fields
    try:
        index = int(index)
        crc = None if algorithm == '-' else (algorithm, int(value))
    except ValueError:
        raise _Unusable('its record is damaged') from None
    if not 0 <= index < num_parts:
        raise _Unusable('its record is damaged')
    return {index: crc}


class Partial:
    """One resumable download's temp file and record, locked by this
    process from ``open`` until ``finish``, ``keep`` or ``discard``."""

    def __init__(self, filename, identity, fd, kept, notice,
                 on_unlock=None):
        self.filename = filename
        self.identity = identity
        self.temp_filename, self.record_filename = resumable_names(filename)
        self._fd = fd
        # ((index, crc or None), ...): the parts this run need not fetch.
        self.kept = kept
        # One line for the user when an earlier partial download was
        # discarded (why), else None.
        self.notice = notice
        self._on_unlock = on_unlock

    @classmethod
    def open(cls, filename, identity, on_unlock=None):
        """Lock the destination's record and decide what of an earlier
        run's partial download is kept; start the record over if nothing
        is (with a notice when something was there). ``on_unlock`` is
        called once the lock is released (``finish``, ``keep``,
        ``discard``).

        Raises ``DestinationLockedError`` if another run holds the lock,
        ``OSError`` if the record cannot be created."""
        temp_filename, record_filename = resumable_names(filename)
        fd = _lock(filename, record_filename)
        try:
            kept, reason = cls._read(fd, temp_filename, identity)
            boot = f'boot {current_boot_id()}\n'
            if reason is None and kept is not None:
                os.lseek(fd, 0, os.SEEK_END)
                os.write(fd, boot.encode())
            else:
                kept = {}
                remove_quietly(temp_filename)
                os.ftruncate(fd, 0)
                os.pwrite(fd, (identity.header() + '\n' + boot).encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        notice = None
        if reason is not None:
            notice = (f'Starting the download of {filename} over: {reason}; '
                      f'the partial download in {temp_filename} was '
                      'discarded.')
        return cls(filename, identity, fd, tuple(sorted(kept.items())),
                   notice, on_unlock)

    @staticmethod
    def _read(fd, temp_filename, identity):
        """``(kept parts, None)``; ``(None, None)`` when there is nothing
        of an earlier run; ``(None, reason)`` when there is, unusable."""
        text = _read_all(fd)
        temp_exists = os.path.lexists(temp_filename)
        if not text:
            if temp_exists:
                return None, 'its temp file has no record of its parts'
            return None, None
        try:
            kept = _parse(text.decode('utf-8', 'replace'), identity,
                          current_boot_id())
        except _Unusable as e:
            return None, str(e)
        if not kept:
            return None, None
        try:
            temp_size = os.stat(temp_filename).st_size
        except FileNotFoundError:
            return None, 'its temp file is missing'
        if temp_size != identity.size:
            return None, 'its temp file is not as long as the object'
        return kept, None

    def finish(self):
        """The temp file was renamed into place (or removed): the record
        goes, and the lock with it."""
        remove_quietly(self.record_filename)
        self._unlock()

    def discard(self):
        """Nothing is worth keeping (the object changed, the file did not
        verify): remove both."""
        remove_quietly(self.temp_filename)
        self.finish()

    def keep(self):
        """Keep the partial download for a rerun, made durable (see the
        module's notes); the bytes kept. With no part recorded, nothing is
        kept. Called once no process writes the temp file any more."""
        try:
            kept = _parse(_read_all(self._fd).decode('utf-8', 'replace'),
                          self.identity, current_boot_id(), this_run=True)
            if not kept:
                self.discard()
                return 0
            fd = os.open(self.temp_filename, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fdatasync(fd)
            finally:
                os.close(fd)
            os.lseek(self._fd, 0, os.SEEK_END)
            os.write(self._fd, b'synced\n')
            os.fsync(self._fd)
        except (OSError, _Unusable):
            self.discard()
            return 0
        self._unlock()
        return sum(self.identity.part_length(index) for index in kept)

    def _unlock(self):
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
            if self._on_unlock is not None:
                self._on_unlock()


class PartialOpener:
    """Decides which of a downloader's submissions are resumable and opens
    their ``Partial``, at most MAX_OPEN_PARTIALS at once.

    :param config: the downloader's ``ProcessTransferConfig``.
    :param on_notice: called with the line for the user when an earlier
        partial download is started over.
    :param check_usable: raises once the downloader can take nothing new,
        so that a submission waiting for a free record stops waiting.
    :param recheck: seconds between those checks while it waits.
    """

    def __init__(self, config, on_notice, check_usable, recheck):
        self._config = config
        self._on_notice = on_notice
        self._check_usable = check_usable
        self._recheck = recheck
        self._slots = threading.BoundedSemaphore(MAX_OPEN_PARTIALS)

    def open(self, meta):
        """The ``Partial`` (locked) of a whole-object download, if it is
        resumable: the config allows it, and the object, fetched in parts,
        has a known size and ETag (the CLI's listing gives both; a library
        caller passes ``expected_size``). The object's LastModified, if a
        subscriber put it in ``meta.user_context['last_modified']`` (the
        command does), must match too; else None.

        Raises ``DestinationLockedError`` or ``OSError`` as
        ``Partial.open`` does."""
        config = self._config
        if (not config.resume or meta.size is None or meta.etag is None
                or config.num_parts(meta.size) < 2):
            return None
        call_args = meta.call_args
        identity = ObjectIdentity(
            bucket=call_args.bucket, key=call_args.key,
            version_id=call_args.extra_args.get('VersionId'),
            etag=meta.etag, size=meta.size,
            last_modified=meta.user_context.get('last_modified'),
            part_size=config.part_size(meta.size))
        while not self._slots.acquire(timeout=self._recheck):
            self._check_usable()
        try:
            partial = Partial.open(call_args.filename, identity,
                                   self._slots.release)
        except BaseException:
            self._slots.release()
            raise
        if partial.notice is not None:
            self._on_notice(partial.notice)
        return partial


def _lock(filename, record_filename):
    """The record, open and locked. The run that held the lock may have
    removed the record (its download done) between our open and our lock:
    a lock on that file would lock nothing another run could see, so the
    file locked must still be the one at the record's name."""
    while True:
        fd = os.open(record_filename,
                     os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                raise DestinationLockedError(
                    f'{filename} is being downloaded by another run (it '
                    f'holds the lock on {record_filename}); the file was '
                    'not written.') from None
            if _is_at(fd, record_filename):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _is_at(fd, path):
    try:
        at_path = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (opened.st_dev, opened.st_ino) == (at_path.st_dev, at_path.st_ino)


def _read_all(fd):
    chunks, offset = [], 0
    while True:
        chunk = os.pread(fd, 1 << 20, offset)
        if not chunk:
            return b''.join(chunks)
        chunks.append(chunk)
        offset += len(chunk)
