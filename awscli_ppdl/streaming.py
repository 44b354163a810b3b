"""One object to a file object (``aws s3 ppcp s3://b/k -``) or a special file
(a FIFO, ``/dev/null``), in order.

The workers fetch the object's ranges in parallel, each into its own file in a
private temp directory; a thread in the parent writes them to the file object
in order, deleting each as soon as it is written. At most ``window`` ranges
are in flight or waiting, so the disk and memory a stream takes are bounded
by ``window × chunk size``, however large the object. Every range carries the
ETag seen by the HeadObject (``IfMatch``): a stream never mixes two versions.
"""
import collections
import contextlib
import errno
import os
import stat
import tempfile
import threading
import time
from typing import Callable, NamedTuple

from s3transfer.exceptions import CancelledError

from awscli_ppdl import fileio
from awscli_ppdl.checksums import (
    ChecksumChecker, full_object_checksum, verification_requested)
from awscli_ppdl.futures import (
    ProcessPoolTransferFuture, call_subscribers, resolve)
from awscli_ppdl.records import ObjectChangedError
from awscli_ppdl.submitter import head_object

# Bytes handed to the file object per write: the copy's memory bound.
WRITE_SIZE = 1024 * 1024
# How long a stream that has ended waits for its ranges still in flight (a
# cancelled range in a worker's hands is still fetched to its end) before it
# removes its temp directory anyway.
SETTLE_TIMEOUT = 30.0
# How often a stream to a FIFO looks for its reader.
FIFO_POLL_INTERVAL = 0.1


class StreamHost(NamedTuple):
    """What a stream needs of the downloader that runs it."""

    # The downloader's work directory, where the stream's ranges wait.
    work_dir: str
    # () -> a client, for the stream's HeadObject.
    create_client: Callable
    # (filename, start, length, etag, call_args) -> the future of one range.
    download_range: Callable
    # (stream) -> None: the stream has ended and resolved its future.
    ended: Callable


class StreamingDownload:
    def __init__(self, meta, subscribers, chunksize, window):
        self._host = None
        self.future = ProcessPoolTransferFuture(meta, self.cancel)
        self.subscribers = subscribers
        self._chunksize = chunksize
        self._window = window
        self._cancelled = threading.Event()
        self._parts = collections.deque()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='ppcp-stream')

    def start(self, host):
        """Start writing, with what ``host`` (a ``StreamHost``) provides."""
        self._host = host
        self._thread.start()

    def cancel(self):
        self._cancelled.set()
        for part in list(self._parts):
            part.cancel()

    def join(self, timeout=None):
        self._thread.join(timeout)

    def _run(self):
        exception = None
        temp_dir = None
        try:
            call_args = self.future.meta.call_args
            size, etag, checker = self._head_object(call_args)
            self.future.meta.provide_transfer_size(size)
            with self._output(call_args.fileobj) as fileobj:
                temp_dir = tempfile.mkdtemp(prefix=fileio.stream_dir_prefix(
                    self._host.work_dir))
                self._stream(call_args, size, etag, temp_dir, checker,
                             fileobj)
        except BaseException as e:
            exception = e
        finally:
            self.cancel()
            if temp_dir is not None:
                # Only once no process can create a range file in it any
                # more: one created while rmtree runs would keep it alive.
                self._settle_parts(SETTLE_TIMEOUT)
                fileio.remove_tree(temp_dir)
            self._host.ended(self)
            resolve(self.future, self.subscribers, exception)

    def _output(self, fileobj):
        """The stream's file object; a special file's name (a FIFO,
        /dev/null) is opened ``wb`` as aws s3 cp opens it, once the object
        is known to exist, and closed at the end."""
        if not isinstance(fileobj, (str, os.PathLike)):
            return contextlib.nullcontext(fileobj)
        if stat.S_ISFIFO(os.stat(fileobj).st_mode):
            return os.fdopen(self._open_fifo(fileobj), 'wb')
        return open(fileobj, 'wb')

    def _open_fifo(self, filename):
        """A FIFO's blocking ``open`` for writing waits for a reader and
        nothing can interrupt it; a non-blocking one, tried again every
        ``FIFO_POLL_INTERVAL`` until a reader comes, lets a cancel (Ctrl-C,
        SIGTERM) end the wait."""
        while True:
            try:
                fd = os.open(filename, os.O_WRONLY | os.O_NONBLOCK
                             | os.O_CLOEXEC)
            except OSError as e:
                if e.errno != errno.ENXIO:
                    raise
            else:
                os.set_blocking(fd, True)
                return fd
            if self._cancelled.wait(FIFO_POLL_INTERVAL):
                raise CancelledError('The download was cancelled.')

    def _settle_parts(self, timeout):
        deadline = time.monotonic() + timeout
        for part in list(self._parts):
            try:
                part.result(max(0.0, deadline - time.monotonic()))
            except Exception:
                pass

    def _head_object(self, call_args):
        response = head_object(
            self._host.create_client(),
            call_args.bucket, call_args.key, call_args.extra_args)
        checksum = None
        if verification_requested(call_args.extra_args):
            checksum = full_object_checksum(response)
        checker = None if checksum is None else ChecksumChecker(*checksum)
        return response['ContentLength'], response.get('ETag'), checker

    def _stream(self, call_args, size, etag, temp_dir, checker, fileobj):
        ranges = ((start, min(self._chunksize, size - start))
                  for start in range(0, size, self._chunksize))
        for _ in range(self._window):
            self._submit_next(ranges, call_args, etag, temp_dir)
        while self._parts:
            part = self._parts.popleft()
            try:
                part.result()
            except ObjectChangedError:
                # The worker's words are for a file, which is then never
                # written; a stream has written what came before.
                raise ObjectChangedError(
                    f's3://{call_args.bucket}/{call_args.key} changed during '
                    f'the download (its ETag is no longer {etag}); the '
                    'output is incomplete.') from None
            if self._cancelled.is_set():
                raise CancelledError('The download was cancelled.')
            self._write(part.meta.call_args.filename, fileobj, checker)
            self._submit_next(ranges, call_args, etag, temp_dir)
        if checker is not None:
            # As for aws s3 cp's streams: the bytes are out already; a
            # mismatch fails the command.
            checker.verify()

    def _submit_next(self, ranges, call_args, etag, temp_dir):
        for start, length in ranges:
            self._parts.append(self._host.download_range(
                os.path.join(temp_dir, f'{start}.part'), start, length, etag,
                call_args))
            return

    def _write(self, part_filename, fileobj, checker):
        with open(part_filename, 'rb') as part:
            os.unlink(part_filename)
            for block in iter(lambda: part.read(WRITE_SIZE), b''):
                if checker is not None:
                    checker.update(block)
                fileobj.write(block)
                call_subscribers(self.subscribers, self.future, 'on_progress',
                                 bytes_transferred=len(block))
