"""A plain-HTTP body moved into its file by the kernel: ``splice(2)`` from
the socket into a pipe, and from the pipe into the temp file at the part's
offset (Linux).

Why: read into a buffer and written with ``pwrite``, each byte is copied
twice (socket to buffer, buffer to page cache), and that was nearly all of
a worker's CPU per GiB over plain HTTP; spliced, the pipe takes the
socket's pages and only the write into the page cache copies them (*The
bytes' path for large parts* in benchmarks/where-the-time-goes.md).

Only for large bodies nothing in the process needs to see: over plain HTTP
(TLS is decrypted in the process), read by the worker itself (no checksum
of botocore's), with no MD5 or CRC of the worker's (``getobject._splice_to``,
``bodywriter.BodyWriter.copy``). A file that refuses (a file system, a device
without ``splice``), or a socket that does, ends the splicing of a body:
what is left goes through the worker's buffer as every other body does.
"""
import contextlib
import errno
import fcntl
import logging
import os
import threading
import weakref

logger = logging.getLogger(__name__)

AVAILABLE = hasattr(os, 'splice')
# What each pipe is asked to hold (Linux's default is 64 KiB): each round
# moves up to this much, socket to pipe, then pipe to file. A round moved
# ~480 KiB on average with 1 MiB pipes (a splice takes what the socket
# holds), and pipes count towards the user's quota of pipe memory (64 MiB
# by default, /proc/sys/fs/pipe-user-pages-soft): past it, every new pipe
# of the user's gets 8 KiB. With one pipe per large GET in flight
# (``SplicerPool``, at most 64 in all) the pool takes at most half of it.
PIPE_SIZE = 512 * 1024
# Below this (the worker's buffer), rounds would be smaller than the
# buffer's: the bodies are read instead.
MIN_PIPE_SIZE = 256 * 1024
# Errors of a splice that a read and a write would not have had: this
# socket or file does not splice, or a sandbox refuses the system call.
REFUSALS = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM)


class SplicerPool:
    """A worker process's splicers, at most ``capacity`` (its large GETs
    in flight), lent one body at a time: the pipes are bounded by the GETs
    that can use them at once, not by the threads, which are more."""

    def __init__(self, capacity):
        self._capacity = capacity
        self._made = 0
        self._free = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def borrowed(self):
        """A splicer for one body, or None while all are lent (the body is
        then read, as a small one is)."""
        with self._lock:
            if self._free:
                splicer = self._free.pop()
            elif self._made < self._capacity:
                splicer = Splicer()
                self._made += 1
            else:
                splicer = None
        try:
            yield splicer
        finally:
            if splicer is not None:
                with self._lock:
                    self._free.append(splicer)


class Splicer:
    """A pipe, created at its first body and kept for the next ones (made
    again after a body that failed, which may have left bytes in it);
    closed when the splicer goes."""

    def __init__(self):
        self._pipe = None  # (read end, write end, capacity)
        self._closer = None
        self._no_pipe = False

    def copy(self, splice_to, fd, offset, on_written):
        """Move a body into ``fd`` at ``offset``, ``on_written(count)`` as
        bytes land, until the body ends (``splice_to(pipe, most)``:
        ``http11.Body.splice_to``) or splicing is refused.

        Returns (bytes written, bytes taken from the body but not written):
        None for the latter when the body was moved to its end; else the
        caller writes them after the first and reads the rest of the body
        another way. The body's own errors (``IncompleteRead``, a reset, a
        timeout) are raised as its ``readinto`` raises them.
        """
        written = 0
        pipe = self._get_pipe()
        if pipe is None:
            return written, b''
        read_end, write_end, capacity = pipe
        try:
            while True:
                try:
                    count = splice_to(write_end, capacity)
                except OSError as e:
                    if e.errno not in REFUSALS:
                        raise
                    logger.debug('The socket refused splice (%s); reading '
                                 'the body instead', e)
                    return written, b''
                if not count:
                    logger.debug('Spliced %d bytes into the file at %d',
                                 written, offset)
                    return written, None
                moved = 0
                try:
                    while moved < count:
                        moved += os.splice(read_end, fd, count - moved,
                                           offset_dst=offset + written + moved)
                except OSError as e:
                    # Whatever it is (a file system without splice, a full
                    # disk), a write of the same bytes tells or works.
                    logger.debug('The file refused splice at %d (%s); '
                                 'writing the body instead',
                                 offset + written + moved, e)
                    on_written(moved)
                    return written + moved, _read_exactly(read_end,
                                                          count - moved)
                written += count
                on_written(count)
        except BaseException:
            # Bytes may be left in the pipe: they must not go into the
            # next body's file.
            self._close()
            raise

    def _get_pipe(self):
        """The thread's pipe, made at its first body; None for good if it
        cannot have one of MIN_PIPE_SIZE (out of descriptors, or past the
        user's quota of pipe memory, where Linux makes pipes of 8 KiB)."""
        if self._pipe is None and not self._no_pipe:
            try:
                read_end, write_end = os.pipe2(os.O_CLOEXEC)
            except OSError as e:
                logger.debug('No pipe to splice through (%s)', e)
                self._no_pipe = True
                return None
            self._closer = weakref.finalize(self, _close_all,
                                            read_end, write_end)
            try:
                capacity = fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ,
                                       PIPE_SIZE)
            except OSError:
                capacity = fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ)
            if capacity < MIN_PIPE_SIZE:
                logger.debug('A pipe of %d bytes only: not splicing',
                             capacity)
                self._close()
                self._no_pipe = True
                return None
            self._pipe = (read_end, write_end, capacity)
        return self._pipe

    def _close(self):
        if self._closer is not None:
            self._closer()
        self._pipe = self._closer = None


def _read_exactly(fd, count):
    """``count`` bytes that are in the pipe ``fd``."""
    parts = []
    while count:
        part = os.read(fd, count)
        parts.append(part)
        count -= len(part)
    return b''.join(parts)


def _close_all(*fds):
    for fd in fds:
        os.close(fd)
