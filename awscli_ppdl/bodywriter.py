"""A GET's body copied into the temp file at its part's offset, as it
arrives: apart from the GET that brought it, because a failure here is the
file's (a full disk), which fetching the part again would not mend.
"""
from awscli_ppdl import fileio

# Bytes received before each pwrite: one reused buffer per thread, filled
# straight from the socket, written with one system call per 256 KiB. Every
# body takes this way: receiving parts straight into a mapping of the file
# instead (one copy fewer) cost more here, in page faults and the zeroing of
# each page before its bytes land (*Parts are written with pwrite* in
# benchmarks/where-the-time-goes.md).
BUFFER_SIZE = 256 * 1024


class LocalWriteError(Exception):
    """Writing the temp file failed (disk full, file too large): fetching
    the part again would not help, so it escapes the retries with its
    ``OSError`` as the cause."""


class BodyWriter:
    """The copying of one thread's bodies: it owns the thread's buffer.

    :param splicers: the process's ``splicing.SplicerPool``, which its
        threads share.
    :param splice_from: the least length of a body worth splicing: a large
        GET's (``worker.LARGE_GET_BYTES``), since the pool has a splicer
        for each large GET in flight.
    """

    def __init__(self, splicers, splice_from):
        self._splicers = splicers
        self._splice_from = splice_from
        self._buffer = memoryview(bytearray(BUFFER_SIZE))

    def copy(self, body, fd, offset, expected, digests, progress):
        """Fill the buffer from the socket, write it at its offset, repeat;
        ``digests`` (objects with ``update``: an MD5, a part's CRC) see the
        bytes as they pass, and ``progress`` (the job's) counts them once
        written. A large body that no digest needs to see is spliced into
        the file where it can be (``splicing``), the rest of it read here
        if splicing stops short; a small one mostly came with its
        response's head, already in memory, where one ``pwrite`` is cheaper
        than a write into the pipe and a splice out of it."""
        received = 0
        if (body.splice_to is not None and not digests
                and expected >= self._splice_from):
            with self._splicers.borrowed() as splicer:
                if splicer is not None:
                    received, unwritten = splicer.copy(
                        body.splice_to, fd, offset, progress.add)
                    if unwritten is None:
                        return received
                    if unwritten:
                        self._write(fd, unwritten, offset + received,
                                    progress)
                        received += len(unwritten)
        buffer = self._buffer
        while True:
            filled = _fill(body.readinto, buffer)
            if filled:
                for digest in digests:
                    digest.update(buffer[:filled])
                self._write(fd, buffer[:filled], offset + received, progress)
                received += filled
            if filled < len(buffer) or received > expected:
                return received

    @staticmethod
    def _write(fd, data, offset, progress):
        """``pwrite_all``, whose failure is the file's (``LocalWriteError``:
        not retried), not the GET's."""
        try:
            fileio.pwrite_all(fd, data, offset)
        except OSError as e:
            raise LocalWriteError() from e
        progress.add(len(data))


def _fill(readinto, view):
    """Read into ``view`` until it is full or the body ends."""
    filled, size = 0, len(view)
    while filled < size:
        count = readinto(view[filled:])
        if not count:
            break
        filled += count
    return filled
