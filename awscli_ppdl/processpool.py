"""ProcessPoolDownloader: the seed design's public API, supervised.

The downloader takes downloads (files, ranges, streams), checks them and
hands them, tracked (``tracker``), to the processes that its lifecycle
(``lifecycle``) starts and stops: the children (``pool``) fetch them, the
collector thread (``collector``) resolves their futures and watches the
children, and ``publishing`` gives the children credentials and request
templates.

Futures speak s3transfer's subscriber protocol (``on_queued``,
``on_progress``, ``on_done``), so the AWS CLI's own subscribers (directory
creation, mtime, result lines, progress) work on them unchanged.
"""
import itertools
import logging
import os
import queue

from s3transfer.exceptions import CancelledError
from s3transfer.utils import CallArgs, OSUtils

from awscli_ppdl import fileio, resume
from awscli_ppdl.clientfactory import ClientFactory
from awscli_ppdl.config import ProcessTransferConfig
from awscli_ppdl.exceptions import (
    ProcessPoolBrokenError, cancel_exception_type)
from awscli_ppdl.futures import (
    ProcessPoolTransferFuture, ProcessPoolTransferMeta, ProgressCallback,
    call_on_queued, resolve)
from awscli_ppdl.lifecycle import PoolLifecycle
from awscli_ppdl.records import ALLOWED_DOWNLOAD_ARGS, DownloadRequest
from awscli_ppdl.streaming import StreamHost, StreamingDownload
from awscli_ppdl.tracker import PendingTransfer, TransferTracker

logger = logging.getLogger(__name__)

# How often a submission waiting for room in the full request queue looks
# whether the pool has broken meanwhile.
FULL_QUEUE_RECHECK = 0.2

__all__ = ['ProcessPoolDownloader', 'ProcessTransferConfig',
           'ProcessPoolTransferFuture', 'ProcessPoolTransferMeta',
           'ProcessPoolBrokenError', 'ALLOWED_DOWNLOAD_ARGS']


class ProcessPoolDownloader:
    def __init__(self, client_kwargs=None, config=None, client_factory=None,
                 credentials=None, on_notice=None):
        """Downloads S3 objects with a pool of processes.

        :param client_kwargs: keyword arguments of
            ``botocore.session.Session.create_client()`` for the children's
            clients (the seed's API); credentials not among them are
            resolved once, in the parent, when the processes start.
        :param config: a ``ProcessTransferConfig``.
        :param client_factory: a ``ClientFactory``, instead of client_kwargs
            (the CLI builds one from its session).
        :param credentials: the botocore credentials the client factory's
            were frozen from; when they expire, the parent refreshes them
            and the children use the new ones.
        :param on_notice: called with a line for the user when a partial
            download that cannot be resumed is started over; None: it is
            logged as a warning.
        """
        resolve_credentials = client_factory is None
        if client_factory is None:
            # The seed's client_kwargs without keys leave them to us; the
            # CLI's factory comes with credentials resolved (or none to find).
            client_factory = ClientFactory.from_client_kwargs(client_kwargs)
        self._config = config or ProcessTransferConfig()
        self._ids = itertools.count()
        self._tracker = TransferTracker()
        self._lifecycle = PoolLifecycle(self._config, client_factory,
                                        credentials, resolve_credentials,
                                        self._tracker)
        self._partials = resume.PartialOpener(
            self._config, on_notice or logger.warning,
            self._lifecycle.check_usable, FULL_QUEUE_RECHECK)

    # -- public API ---------------------------------------------------------

    def download_file(self, bucket, key, filename, extra_args=None,
                      expected_size=None, subscribers=None,
                      progress_callback=None):
        """Download an object to a file; returns a future.

        :param expected_size: the object's size, if known (from a listing):
            it saves a HeadObject and decides single or ranged GETs.
        :param subscribers: s3transfer-style subscribers (``on_queued``,
            ``on_progress``, ``on_done``), called in the parent.
        :param progress_callback: called in the parent with the number of
            bytes received since the last call (a few times a second per
            worker; negative when a failed attempt's bytes are discarded).
        """
        subscribers = list(subscribers or [])
        if progress_callback is not None:
            subscribers.append(ProgressCallback(progress_callback))
        if OSUtils().is_special_file(filename):
            # A FIFO or a device (/dev/null, /dev/stdout on a pipe) is
            # written into, in order, as aws s3 cp writes into it: renaming
            # a temp file over it would replace the node itself (/dev/null,
            # as root), and a device's directory is seldom writable.
            return self._start_stream(bucket, key, filename, extra_args,
                                      subscribers)
        return self._submit(bucket, key, filename, extra_args, expected_size,
                            subscribers)

    def download_range(self, bucket, key, filename, start, length, etag=None,
                       extra_args=None, subscribers=None):
        """Download ``length`` bytes of an object from ``start`` to a file.

        It is one ranged GET, checked like a part of a download (the exact
        range, ``IfMatch`` ``etag`` when given); a stream is made of these.
        """
        return self._submit(bucket, key, filename, extra_args, length,
                            subscribers, byte_range=(start, length),
                            etag=etag)

    def download(self, bucket, key, fileobj, extra_args=None,
                 subscribers=None):
        """``s3transfer.manager.TransferManager.download``'s signature.

        It lets the AWS CLI's own ``S3TransferHandler`` drive this downloader
        in place of its thread-based transfer manager.
        """
        if not isinstance(fileobj, (str, os.PathLike)):
            return self.download_to_fileobj(bucket, key, fileobj, extra_args,
                                            subscribers)
        return self.download_file(bucket, key, fileobj, extra_args,
                                  subscribers=subscribers)

    def download_to_fileobj(self, bucket, key, fileobj, extra_args=None,
                            subscribers=None):
        """Write an object to a binary file object (stdout), in order.

        The workers fetch its ranges in parallel; at most a few ranges
        (``max_concurrent_large_requests + 2``) are held at once, in a temp
        directory, whatever the object's size. Returns a future.
        """
        return self._start_stream(bucket, key, fileobj, extra_args,
                                  subscribers)

    def start(self, several_workers=False, expected_size=None):
        """Start the processes now rather than at the first download.

        Under ``fork`` this lets a caller fork before it starts threads of
        its own. ``several_workers``: the caller will keep more than one
        worker busy (many files); with the default ``start_method``, the
        workers after the first then start from a lean fork server (if
        there may be enough of them, ``startmethods``), which is otherwise
        chosen when the first download has several parts.
        ``expected_size``: the size of the one object the caller is about
        to download, whose parts say how many workers it needs.
        """
        if several_workers:
            workers = self._config.max_request_processes
        elif expected_size is not None:
            workers = self._estimate_parts(expected_size)
        else:
            workers = 1
        self._lifecycle.start(workers, many_files=several_workers)

    def shutdown(self, cancel=False, cancel_msg=''):
        """Wait for every download to finish, then stop the processes.

        With ``cancel``, downloads in flight are cancelled instead. The next
        download starts the processes again.
        """
        self._lifecycle.shutdown(cancel, CancelledError(cancel_msg))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, *args):
        """Leaving on an exception cancels what is in flight, as
        s3transfer's ``TransferManager`` does (the seed waits instead): the
        program is failing, and ``aws s3 ppcp`` must stop at a fatal error
        as ``aws s3 cp`` does."""
        if exc_type is None:
            self._lifecycle.shutdown(False, None)
        else:
            self._lifecycle.shutdown(True, cancel_exception_type(exc_value)(
                str(exc_value) or repr(exc_value)))

    # -- submission ---------------------------------------------------------

    def _new_meta(self, for_stream=False, **call_args):
        """Check what every download needs; its meta."""
        call_args['extra_args'] = dict(call_args['extra_args'] or {})
        _validate_extra_args(call_args['extra_args'])
        call_args['subscribers'] = list(call_args['subscribers'] or [])
        self._lifecycle.check_usable(for_stream)
        return ProcessPoolTransferMeta(next(self._ids), CallArgs(**call_args))

    def _submit(self, bucket, key, filename, extra_args, expected_size,
                subscribers, byte_range=None, etag=None, for_stream=False):
        meta = self._new_meta(
            for_stream, bucket=bucket, key=key, filename=filename,
            fileobj=filename, extra_args=extra_args,
            expected_size=expected_size, subscribers=subscribers)
        call_args = meta.call_args
        transfer_id = meta.transfer_id
        future = ProcessPoolTransferFuture(
            meta, lambda: self._cancel_transfer(transfer_id),
            self._lifecycle.reports_wanted)
        if expected_size is not None:
            meta.provide_transfer_size(expected_size)
        queue_error = call_on_queued(call_args.subscribers, future)
        if queue_error is not None:
            resolve(future, call_args.subscribers, queue_error)
            return future
        # Sized now: the CLI's subscribers provide the listed size on_queued.
        parts = (1 if byte_range is not None
                 else self._estimate_parts(meta.size))
        try:
            partial = (None if byte_range is not None
                       else self._partials.open(meta))
        except (resume.DestinationLockedError, OSError) as error:
            resolve(future, call_args.subscribers, error)
            return future
        pending = PendingTransfer(
            future, call_args.subscribers,
            fileio.temp_filename_for(filename) if partial is None
            else partial.temp_filename, parts, partial,
            self._tracker.note_kept)
        request = DownloadRequest(
            transfer_id=transfer_id, bucket=bucket, key=key,
            temp_filename=pending.temp_filename,
            extra_args=call_args.extra_args, expected_size=meta.size,
            etag=etag or meta.etag, byte_range=byte_range,
            record_filename=None if partial is None
            else partial.record_filename,
            kept_parts=() if partial is None else partial.kept,
            more_to_come=byte_range is None and self._lifecycle.many_files,
        )
        try:
            running = self._lifecycle.admit(transfer_id, pending, for_stream)
        except BaseException:
            if partial is not None and self._tracker.get(transfer_id) is None:
                # Refused before it was tracked (which would end it): the
                # lock goes, what an earlier run kept stays.
                partial.keep()
            raise
        # Before the request can reach a worker; outside the lifecycle's
        # lock, which the collector and cancels need meanwhile.
        running.publisher.publish_template(bucket)
        self._put_request(running, request, for_stream)
        return future

    def kept_partials(self):
        """The partial downloads kept for a rerun so far, as
        ``(filename, temp filename, bytes kept, size)``."""
        return self._tracker.kept_partials()

    def _download_stream_range(self, filename, start, length, etag,
                               call_args):
        """A range of a stream in flight: allowed while a graceful shutdown
        waits for that stream to end."""
        return self._submit(call_args.bucket, call_args.key, filename,
                            call_args.extra_args, length, None,
                            byte_range=(start, length), etag=etag,
                            for_stream=True)

    def _estimate_parts(self, size):
        if size is None:
            return self._config.max_request_processes
        return self._config.num_parts(size)

    def _put_request(self, running, request, for_stream=False):
        """Wait for room in the bounded queue, but not on a broken pool."""
        while True:
            self._lifecycle.check_current(running, for_stream)
            try:
                running.children.request_queue.put(
                    request, timeout=FULL_QUEUE_RECHECK)
                return
            except queue.Full:
                continue

    def _start_stream(self, bucket, key, fileobj, extra_args, subscribers):
        """A ``StreamingDownload`` to a file object, or to a special file
        named by ``fileobj`` (which stays the name, for the CLI's
        subscribers)."""
        meta = self._new_meta(bucket=bucket, key=key, fileobj=fileobj,
                              extra_args=extra_args, subscribers=subscribers)
        subscribers = meta.call_args.subscribers
        stream = StreamingDownload(
            meta, subscribers, self._config.multipart_chunksize,
            window=self._config.max_concurrent_large_requests + 2)
        queue_error = call_on_queued(subscribers, stream.future)
        if queue_error is not None:
            resolve(stream.future, subscribers, queue_error)
            return stream.future
        running = self._lifecycle.admit_stream(stream)
        stream.start(StreamHost(
            work_dir=running.children.work_dir,
            create_client=running.client_factory.create_client,
            download_range=self._download_stream_range,
            ended=self._tracker.discard_stream))
        return stream.future

    def _cancel_transfer(self, transfer_id):
        self._lifecycle.cancel_transfer(
            transfer_id, CancelledError('The download was cancelled.'))


def _validate_extra_args(extra_args):
    for name in extra_args:
        if name not in ALLOWED_DOWNLOAD_ARGS:
            raise ValueError(
                f"Invalid extra_args key '{name}', must be one of: "
                f"{', '.join(ALLOWED_DOWNLOAD_ARGS)}")
