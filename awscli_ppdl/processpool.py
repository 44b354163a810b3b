"""ProcessPoolDownloader: the seed design's public API, supervised.

The parent keeps, for each transfer in flight, its future, temp file name and
subscribers. One collector thread takes finished transfers and progress from
the monitor in batches, renames complete temp files into place (only the
parent ever renames, so nothing appears at a destination after the parent is
gone) and resolves futures. The same thread supervises the children the way
``concurrent.futures.ProcessPoolExecutor`` does: if the submitter, a worker or
the monitor's manager dies, the pool is broken, every transfer in flight fails
with an error that names what died, its temp file is removed, and no
``result()`` waits for ever.

Futures speak s3transfer's subscriber protocol (``on_queued``,
``on_progress``, ``on_done``), so the AWS CLI's own subscribers (directory
creation, mtime, result lines, progress) work on them unchanged.
"""
import contextlib
import functools
import gc
import itertools
import logging
import os
import queue
import signal
import threading

from s3transfer.exceptions import CancelledError, FatalError
from s3transfer.futures import TransferMeta
from s3transfer.utils import MAX_PARTS, CallArgs, OSUtils

from awscli_ppdl import checksums, fileio
from awscli_ppdl.clientfactory import ClientFactory
from awscli_ppdl.monitor import TransferMonitorManager
from awscli_ppdl.records import SHUTDOWN, DownloadRequest
from awscli_ppdl.childlogs import ChildLogReceiver
from awscli_ppdl.children import prepare_child, starting_children
from awscli_ppdl.credentials import CredentialRefresher
from awscli_ppdl.getobject import HttpSessionSettings, TemplateLearner
from awscli_ppdl.startmethods import ChildContexts
from awscli_ppdl.streaming import StreamingDownload
from awscli_ppdl.submitter import run_submitter
from awscli_ppdl.worker import run_worker

logger = logging.getLogger(__name__)

MB = 1024 * 1024
ALLOWED_DOWNLOAD_ARGS = (
    'ChecksumMode', 'VersionId', 'SSECustomerAlgorithm', 'SSECustomerKey',
    'SSECustomerKeyMD5', 'RequestPayer', 'ExpectedBucketOwner',
)
# How long the collector waits for news before it looks at the children.
SUPERVISION_INTERVAL = 0.2
# Requests waiting for the submitter: enough to keep it busy, bounded so a
# listing of millions of keys does not sit in memory (the seed's bound).
REQUEST_QUEUE_SIZE = 1000
# How long a child gets to exit after SIGTERM before SIGKILL.
TERMINATE_GRACE = 2.0
# How long shutdown waits for children that were asked to exit.
JOIN_TIMEOUT = 10.0
# How long a cancelled stream gets to clean up.
STREAM_STOP_TIMEOUT = 5.0


class ProcessPoolBrokenError(FatalError):
    """A child process died; the transfers in flight could not complete.

    It ends the whole command, not one download, so it is s3transfer's
    ``FatalError``: the AWS CLI prints it once as ``fatal error: ...``, as
    for any error that stops ``aws s3 cp``, instead of one ``download
    failed`` line per file that was still queued."""


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM or SIGHUP: stop as for Ctrl-C (a
    KeyboardInterrupt, so no ``except Exception`` swallows it), but report
    the downloads in flight as failed rather than cancelled by the user."""


class ProcessTransferConfig:
    def __init__(self, multipart_threshold=8 * MB, multipart_chunksize=8 * MB,
                 max_request_processes=10, start_method=None,
                 max_concurrent_requests=None, max_queue_size=1000,
                 max_concurrent_large_requests=None):
        """Configuration for the ProcessPoolDownloader.

        :param multipart_threshold: objects of this size or larger are fetched
            as ranged GETs of ``multipart_chunksize`` bytes, or larger ones
            for an object that would otherwise have more than ``MAX_PARTS``
            (10,000, S3's most parts of an upload) parts.
        :param max_request_processes: the most worker processes making GETs
            at once, and never more than ``max_concurrent_requests``; fewer
            are started when there are fewer jobs.
        :param start_method: ``fork``, ``forkserver`` or ``spawn`` for
            every child; None forks the first children (cheapest start-up)
            and starts further workers from a lean fork server, where the
            platform has both (``startmethods``), and uses the platform
            default elsewhere.
        :param max_concurrent_requests: the GETs in flight in all the
            workers together; each worker makes its share of them at once,
            one per thread (at least one). None: one per worker, as in
            s3transfer's process pool. Processes are what the CPUs run in
            parallel, requests what keeps a link busy while each waits for
            its server: more processes than CPUs only compete for them.
        :param max_concurrent_large_requests: how many of those GETs may be
            large ones (``worker.LARGE_GET_BYTES``: parts, and objects of a
            MiB or more) at once, shared out the same way (at least one per
            worker); None: all of them. Many small GETs keep a link with
            latency busy; large ones only share the same bandwidth and
            CPUs, and each holds memory.
        :param max_queue_size: the most GET jobs planned ahead of the
            workers (the CLI's ``max_queue_size``, s3transfer's bound on its
            queued tasks): the submitter waits for the workers beyond it,
            so the jobs of many parts or files do not pile up in memory.
        """
        if max_concurrent_requests is None:
            max_concurrent_requests = max_request_processes
        if max_concurrent_large_requests is None:
            max_concurrent_large_requests = max_concurrent_requests
        if min(multipart_chunksize, max_request_processes,
               max_concurrent_requests, max_concurrent_large_requests,
               max_queue_size) <= 0:
            raise ValueError('multipart_chunksize, max_request_processes, '
                             'max_concurrent_requests, '
                             'max_concurrent_large_requests and '
                             'max_queue_size must be positive')
        self.multipart_threshold = multipart_threshold
        self.multipart_chunksize = multipart_chunksize
        # Each worker makes at least one GET at once: more workers than
        # requests would put more of them in flight than asked for (and
        # cost ~30 MiB each to do it).
        self.max_request_processes = min(max_request_processes,
                                         max_concurrent_requests)
        self.start_method = start_method
        self.max_concurrent_requests = max_concurrent_requests
        self.max_concurrent_large_requests = min(
            max_concurrent_large_requests, max_concurrent_requests)
        self.max_queue_size = max_queue_size

    def requests_of_worker(self, number):
        """How many GETs worker ``number`` makes at once: the concurrent
        requests shared out as evenly as the processes allow."""
        return self._share(self.max_concurrent_requests, number)

    def large_requests_of_worker(self, number):
        """How many of worker ``number``'s GETs may be large at once (at
        least one: a worker must be able to do any job)."""
        return min(max(1, self._share(self.max_concurrent_large_requests,
                                      number)),
                   self.requests_of_worker(number))

    def _share(self, total, number):
        share, extra = divmod(total, self.max_request_processes)
        return share + (number < extra)

    def part_size(self, size):
        """The size of the ranged GETs of an object of ``size`` bytes.

        ``multipart_chunksize``, but no more than ``MAX_PARTS`` parts: every
        part is a job record planned and queued at once, so a tiny chunk
        size (``multipart_chunksize = 1``) would otherwise fill the
        submitter's memory with a job per byte."""
        return max(self.multipart_chunksize, -(-size // MAX_PARTS))


class ProcessPoolTransferFuture:
    """The future of one download; ``result()`` never waits for ever."""

    def __init__(self, meta, downloader):
        self._meta = meta
        self._downloader = downloader
        self._done = threading.Event()
        self._exception = None

    @property
    def meta(self):
        return self._meta

    def done(self):
        return self._done.is_set()

    def result(self, timeout=None):
        if not self._done.wait(timeout):
            raise TimeoutError('The download has not finished yet.')
        if self._exception is not None:
            raise self._exception

    def exception(self):
        self._done.wait()
        return self._exception

    def cancel(self):
        self._downloader._cancel_transfer(self._meta.transfer_id)

    def _resolve(self, exception):
        self._exception = exception
        self._done.set()


class _StreamFuture(ProcessPoolTransferFuture):
    _stream = None

    def cancel(self):
        if self._stream is not None:
            self._stream.cancel()


class _ProgressCallback:
    """A plain callable as an ``on_progress`` subscriber."""

    def __init__(self, callback):
        self._callback = callback

    def on_progress(self, bytes_transferred, **kwargs):
        self._callback(bytes_transferred)


class _PendingTransfer:
    __slots__ = ('future', 'subscribers', 'temp_filename', 'parts',
                 'cancel_exception')

    def __init__(self, future, subscribers, temp_filename, parts):
        self.future = future
        self.subscribers = subscribers
        self.temp_filename = temp_filename
        self.parts = parts
        self.cancel_exception = None


class ProcessPoolDownloader:
    def __init__(self, client_kwargs=None, config=None, client_factory=None,
                 credentials=None):
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
        """
        # The CLI's factory comes with credentials resolved (or none to
        # find); the seed's client_kwargs without keys leave it to us.
        self._resolve_credentials = client_factory is None
        if client_factory is None:
            client_factory = ClientFactory.from_client_kwargs(client_kwargs)
        self._client_factory = client_factory
        self._config = config or ProcessTransferConfig()
        self._contexts = None
        self._lock = threading.RLock()
        self._ids = itertools.count()
        self._pending = {}
        self._planned_parts = 0
        self._started = False
        self._closing = False
        self._shut_down = False
        self._broken = None
        self._manager = None
        self._monitor = None
        self._submitter = None
        self._workers = []
        self._starter = None
        self._stopping_children = False
        self._collector = None
        self._credentials = credentials
        self._credential_refresher = None
        self._template_learner = None
        self._http_settings = None
        self._buckets_learned = set()
        self._streams = set()
        self._child_logs = None

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
            subscribers.append(_ProgressCallback(progress_callback))
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

    def _download_stream_range(self, filename, start, length, etag,
                               call_args):
        """A range of a stream in flight: allowed while a graceful shutdown
        waits for that stream to end."""
        return self._submit(call_args.bucket, call_args.key, filename,
                            call_args.extra_args, length, None,
                            byte_range=(start, length), etag=etag,
                            for_stream=True)

    def _new_transfer(self, for_stream=False, **call_args):
        """Check what every download needs; its ``TransferMeta``."""
        call_args['extra_args'] = dict(call_args['extra_args'] or {})
        _validate_extra_args(call_args['extra_args'])
        call_args['subscribers'] = list(call_args['subscribers'] or [])
        with self._lock:
            self._raise_if_unusable(for_stream)
            transfer_id = next(self._ids)
        return TransferMeta(CallArgs(**call_args), transfer_id=transfer_id)

    def _submit(self, bucket, key, filename, extra_args, expected_size,
                subscribers, byte_range=None, etag=None, for_stream=False):
        meta = self._new_transfer(
            for_stream, bucket=bucket, key=key, filename=filename,
            fileobj=filename, extra_args=extra_args,
            expected_size=expected_size, subscribers=subscribers)
        extra_args = meta.call_args.extra_args
        subscribers = meta.call_args.subscribers
        transfer_id = meta.transfer_id
        future = ProcessPoolTransferFuture(meta, self)
        if expected_size is not None:
            meta.provide_transfer_size(expected_size)
        pending = _PendingTransfer(future, subscribers,
                                   fileio.temp_filename_for(filename), 0)
        queue_error = _call_on_queued(subscribers, future)
        if queue_error is not None:
            self._resolve(pending, queue_error)
            return future
        request = DownloadRequest(
            transfer_id=transfer_id, bucket=bucket, key=key,
            temp_filename=pending.temp_filename, extra_args=extra_args,
            expected_size=meta.size, etag=etag or meta.etag,
            byte_range=byte_range,
        )
        with self._lock:
            self._raise_if_unusable(for_stream)
            pending.parts = (1 if byte_range is not None
                             else self._estimate_parts(meta.size))
            # Recorded first: a Ctrl-C during the start-up (which holds it
            # to its end) cancels this transfer too, as the CLI expects of
            # one it was told is queued.
            self._pending[transfer_id] = pending
            self._planned_parts += pending.parts
            self._start_if_needed(several_workers=pending.parts > 1)
            self._publish_template(bucket)
            self._start_workers_for(self._planned_parts)
        self._put_request(request, for_stream)
        return future

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

    def _start_stream(self, bucket, key, fileobj, extra_args, subscribers):
        """A ``StreamingDownload`` to a file object, or to a special file
        named by ``fileobj`` (which stays the name, for the CLI's
        subscribers)."""
        meta = self._new_transfer(bucket=bucket, key=key, fileobj=fileobj,
                                  extra_args=extra_args,
                                  subscribers=subscribers)
        subscribers = meta.call_args.subscribers
        future = _StreamFuture(meta, self)
        stream = StreamingDownload(
            self, future, subscribers, self._config.multipart_chunksize,
            window=self._config.max_concurrent_large_requests + 2)
        future._stream = stream
        queue_error = _call_on_queued(subscribers, future)
        if queue_error is not None:
            self._resolve(stream, queue_error)
            return future
        with self._lock:
            self._raise_if_unusable()
            self._start_if_needed(several_workers=True)
            self._streams.add(stream)
        stream.start()
        return future

    def _finish_stream(self, stream, exception):
        with self._lock:
            self._streams.discard(stream)
        self._resolve(stream, exception)

    def _notify_stream_progress(self, stream, nbytes):
        _call_subscribers(stream, 'on_progress', bytes_transferred=nbytes)

    def _put_request(self, request, for_stream=False):
        """Wait for room in the bounded queue, but not on a broken pool."""
        while True:
            self._raise_if_unusable(for_stream)
            try:
                self._request_queue.put(request, timeout=SUPERVISION_INTERVAL)
                return
            except queue.Full:
                continue

    def start(self, several_workers=False):
        """Start the processes now rather than at the first download.

        Under ``fork`` this lets a caller fork before it starts threads of
        its own. ``several_workers``: the caller will keep more than one
        worker busy (many files); with the default ``start_method``, the
        workers after the first then start from a lean fork server (if
        there may be enough of them, ``startmethods``), which is otherwise
        chosen when the first download has several parts.
        """
        with self._lock:
            self._raise_if_unusable()
            self._start_if_needed(several_workers)

    def shutdown(self, cancel=False, cancel_msg=''):
        """Wait for every download to finish, then stop the processes.

        With ``cancel``, downloads in flight are cancelled instead.
        """
        self._shutdown(cancel, cancel_msg, CancelledError)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, *args):
        if exc_type is None:
            self._shutdown(False, '', CancelledError)
        else:
            self._shutdown(True, str(exc_value) or repr(exc_value),
                           _cancel_exception_type(exc_value))

    # -- start-up -----------------------------------------------------------

    def _start_if_needed(self, several_workers):
        if self._started:
            return
        if self._resolve_credentials:
            self._client_factory, self._credentials = (
                self._client_factory.with_resolved_credentials())
        # Lean workers only where there will be enough of them to pay for
        # their fork server, and where they need no client: with
        # credentials to sign the parent's templates with.
        expected_workers = (self._config.max_request_processes
                            if several_workers
                            and self._client_factory.credentials is not None
                            else 1)
        self._contexts = ChildContexts(self._config.start_method,
                                       expected_workers)
        ctx = self._contexts.shared
        if self._contexts.forks:
            self._client_factory.prepare_for_fork()
        self._contexts.start_helpers()
        # Everything started is recorded before a Ctrl-C can stop it.
        with starting_children():
            self._child_logs = ChildLogReceiver(ctx)
            # The manager's socket is the parent's (left to multiprocessing,
            # it would be created, and only removed on a clean exit, by the
            # manager process, which a cancel terminates): see
            # ``fileio.new_work_dir``.
            self._work_dir, address = fileio.new_work_dir()
            self._manager = TransferMonitorManager(
                address=address, ctx=self._contexts.first)
            with _gc_frozen_for_fork():
                self._manager.start(prepare_child, (
                    functools.partial(_remove_work_dirs, self._work_dir,
                                      self._contexts.fork_server_dir()),
                    'ppcp-monitor', self._child_logs.config))
            self._monitor = self._manager.TransferMonitor()
            credentials = self._client_factory.credentials
            if (self._credentials is not None and credentials is not None
                    and credentials.expiry_time is not None):
                self._credential_refresher = CredentialRefresher(
                    self._credentials, self._monitor.publish_credentials)
            if credentials is not None:
                client = self._client_factory.create_client()
                self._template_learner = TemplateLearner(client)
                self._http_settings = HttpSessionSettings.of_client(client)
            self._request_queue = ctx.Queue(REQUEST_QUEUE_SIZE)
            self._job_queue = ctx.Queue(self._config.max_queue_size)
            self._cancel_event = ctx.Event()
            self._submitter = self._start_process(
                'ppcp-submitter', run_submitter,
                (self._client_factory, self._config, self._request_queue,
                 self._job_queue, self._monitor, self._cancel_event,
                 self._child_logs.config))
            self._collector = threading.Thread(
                target=self._collect_and_supervise, name='ppcp-collector',
                daemon=True)
            self._collector.start()
            self._started = True

    def _start_process(self, name, target, args, context=None):
        context = context or self._contexts.first
        process = context.Process(target=target, args=args, name=name,
                                  daemon=True)
        with _gc_frozen_for_fork():
            process.start()
        logger.debug('Started %s (pid %d, %s)', name, process.pid,
                     context.get_start_method())
        return process

    def _estimate_parts(self, size):
        if size is None:
            return self._config.max_request_processes
        if size < self._config.multipart_threshold:
            return 1
        return -(-size // self._config.part_size(size))

    def _start_workers_for(self, planned_parts):
        """Only as many workers as there are jobs: a single small download
        does not pay for ten process start-ups. The first is started here,
        at once; the others by the starter thread."""
        wanted = min(self._config.max_request_processes, planned_parts)
        if not self._workers and wanted:
            with starting_children():
                self._workers.append(self._start_worker(0, None))
        if wanted > 1:
            if self._starter is None:
                self._starter = _WorkerStarter(self._start_later_worker)
            self._starter.want(wanted)

    def _start_worker(self, number, context):
        return self._start_process(
            f'ppcp-worker-{number}', run_worker,
            (self._client_factory, self._http_settings, self._job_queue,
             self._monitor, self._cancel_event,
             self._config.requests_of_worker(number),
             self._config.large_requests_of_worker(number),
             self._child_logs.config),
            context)

    def _start_later_worker(self):
        """In the starter thread: one more worker, unless the pool is
        closing by the time it has started."""
        with self._lock:
            number = len(self._workers)
        with starting_children():
            worker = self._start_worker(number, self._contexts.later_workers)
        with self._lock:
            if not self._stopping_children:
                self._workers.append(worker)
                return
        worker.terminate()
        worker.join()

    def _publish_template(self, bucket):
        """The first time a bucket is asked for: the request its workers
        send (``getobject``), learned here once instead of in each worker."""
        if self._template_learner is None or bucket in self._buckets_learned:
            return
        self._buckets_learned.add(bucket)
        template = self._template_learner.learn(bucket)
        if template is not None:
            self._monitor.publish_template(bucket, template)

    def _raise_if_unusable(self, for_stream=False):
        if self._broken is not None:
            raise self._broken
        graceful_stream_end = (for_stream and self._started
                               and not self._cancel_event.is_set())
        if self._closing and not graceful_stream_end:
            raise RuntimeError('The downloader has been shut down.')

    # -- the collector thread -----------------------------------------------

    def _collect_and_supervise(self):
        forget_cancelled = []
        while True:
            try:
                events = self._monitor.collect(SUPERVISION_INTERVAL,
                                               forget_cancelled)
            except Exception as e:
                # A dead monitor breaks the pool in every phase, closing
                # too: ``shutdown()`` waits for what is in flight, which
                # nothing would resolve any more. Only after a cancel has
                # the parent stopped it itself.
                if not self._cancel_event.is_set():
                    self._break(self._describe_monitor_failure(e))
                return
            forget_cancelled = []
            for transfer_id, nbytes in events.progress:
                self._notify_progress(transfer_id, nbytes)
            for outcome in events.outcomes:
                if self._finish(outcome) or outcome.cancelled:
                    forget_cancelled.append(outcome.transfer_id)
            dead = self._find_dead_child()
            if dead is not None and not self._cancel_event.is_set():
                # (After a cancel, the parent is terminating them itself.)
                self._break(dead)
                return
            self._refresh_credentials()
            if self._closing and not self._pending and not self._streams:
                return

    def _refresh_credentials(self):
        if self._credential_refresher is None:
            return
        try:
            self._credential_refresher.refresh_if_due()
        except Exception:
            # The children go on with what they have; if that expires, their
            # requests fail with the server's ExpiredToken, which is printed.
            logger.warning('Could not refresh the credentials', exc_info=True)

    def _notify_progress(self, transfer_id, nbytes):
        pending = self._pending.get(transfer_id)
        if pending is not None:
            _call_subscribers(pending, 'on_progress', bytes_transferred=nbytes)

    def _finish(self, outcome):
        """Resolve a finished transfer; True if a cancel was asked for it
        (so the monitor can forget the cancel, even one that came late)."""
        with self._lock:
            pending = self._pending.pop(outcome.transfer_id, None)
            if pending is None:
                return False
            self._planned_parts -= pending.parts
        if pending.cancel_exception is not None or outcome.cancelled:
            fileio.remove_quietly(pending.temp_filename)
            exception = pending.cancel_exception or CancelledError(
                'The download was cancelled.')
        elif outcome.error is not None:
            fileio.remove_quietly(pending.temp_filename)
            exception = outcome.error.to_exception()
        else:
            try:
                if outcome.checksum is not None:
                    checksums.verify_file(pending.temp_filename,
                                          *outcome.checksum)
                fileio.finalize(pending.temp_filename,
                                pending.future.meta.call_args.filename,
                                outcome.bytes_written)
                exception = None
            except Exception as e:
                fileio.remove_quietly(pending.temp_filename)
                exception = e
        self._resolve(pending, exception)
        return pending.cancel_exception is not None

    def _resolve(self, pending, exception):
        pending.future._resolve(exception)
        _call_subscribers(pending, 'on_done')

    def _find_dead_child(self):
        for description, process in self._described_children():
            if process.exitcode is not None:
                return (f'{description} (pid {process.pid}) '
                        f'{_describe_exit(process.exitcode)}')
        return None

    def _describe_monitor_failure(self, error):
        process = self._manager._process
        process.join(SUPERVISION_INTERVAL)
        if process.exitcode is not None:
            return (f'the transfer monitor process (pid {process.pid}) '
                    f'{_describe_exit(process.exitcode)}')
        return f'the transfer monitor stopped answering ({error!r})'

    # -- failure, cancellation and shutdown ---------------------------------

    def _break(self, what_died):
        self._broken = ProcessPoolBrokenError(
            f'Download aborted: {what_died}; the downloads in progress were '
            'stopped and their temporary files removed.')
        logger.debug('Process pool broken: %s', what_died)
        self._terminate_children()
        self._abandon_pending(self._broken)

    def _cancel_transfer(self, transfer_id):
        with self._lock:
            pending = self._pending.get(transfer_id)
            if pending is None or pending.cancel_exception is not None:
                return
            pending.cancel_exception = CancelledError(
                'The download was cancelled.')
            # Under the lock: the collector cannot finish this transfer (and
            # tell the monitor to forget the cancel) before the monitor has
            # received it.
            try:
                self._monitor.cancel([transfer_id])
            except Exception:
                logger.debug('Could not tell the monitor about a cancel',
                             exc_info=True)

    def _shutdown(self, cancel, cancel_msg, cancel_exc_type):
        with self._lock:
            # Once only; but also after a broken pool (already closing), so
            # that what the processes leave (sockets, threads) goes too.
            if not self._started or self._shut_down:
                self._closing = True
                return
            self._closing = self._shut_down = True
        try:
            if cancel:
                self._cancel_everything(cancel_exc_type(cancel_msg))
            else:
                self._wait_for_pending()
        except KeyboardInterrupt as interrupt:
            self._cancel_everything(_cancel_exception_type(interrupt)(
                str(interrupt) or repr(interrupt)))
            raise
        finally:
            self._stop_children()

    def _wait_for_pending(self):
        while True:
            with self._lock:
                futures = [p.future for p in self._pending.values()]
                futures += [s.future for s in self._streams]
            if not futures:
                return
            for future in futures:
                future._done.wait()

    def _cancel_everything(self, exception):
        """Stop now: a cancelled download's bytes are not worth waiting for.

        The children are stopped first, so that no process is still creating
        or writing a temp file when the parent removes it; a second Ctrl-C
        does not cut this short.
        """
        with _interrupts_deferred():
            with self._lock:
                # What the collector finishes from now on (the children's
                # last reports) fails with the cancel's reason too: a
                # FatalError's ``fatal error`` line is the one the CLI
                # prints, not a plain cancel's ``cancelled: ctrl-c
                # received``, nor an error the cancel itself caused.
                for pending in self._pending.values():
                    if pending.cancel_exception is None:
                        pending.cancel_exception = exception
            self._cancel_event.set()
            self._terminate_children()
            self._abandon_pending(exception)

    def _abandon_pending(self, exception):
        with self._lock:
            abandoned = list(self._pending.values())
            self._pending.clear()
            self._planned_parts = 0
        for pending in abandoned:
            fileio.remove_quietly(pending.temp_filename)
            self._resolve(pending, exception)
        # A stream fails with its ranges; let it remove its temp directory
        # (unless its reader has stalled it on a write).
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            stream.cancel()
            stream.join(STREAM_STOP_TIMEOUT)

    def _described_children(self):
        """Every child process, with how an error message names it."""
        return [('the submitter process', self._submitter),
                *((f'worker process {i}', worker)
                  for i, worker in enumerate(self._workers)),
                ('the transfer monitor process', self._manager._process)]

    def _child_processes(self):
        return [process for _, process in self._described_children()]

    def _terminate_children(self):
        with self._lock:
            self._closing = self._stopping_children = True
        processes = self._child_processes()
        for process in processes:
            if process.exitcode is None:
                process.terminate()
        for process in processes:
            process.join(TERMINATE_GRACE)
            if process.exitcode is None:
                process.kill()
                process.join()
        for work_queue in (self._request_queue, self._job_queue):
            work_queue.cancel_join_thread()
            work_queue.close()

    def _stop_children(self):
        if self._starter is not None:
            self._starter.stop()
        with self._lock:
            self._stopping_children = True
        try:
            self._stop_processes()
        finally:
            # A child that did not exit on its own may have died in the
            # middle of sending a record (terminated, killed, crashed).
            self._child_logs.stop(children_killed=any(
                process.exitcode != 0 for process in self._child_processes()))
            fileio.remove_work_dirs(self._work_dir)

    def _stop_processes(self):
        # Nothing is in flight any more, so the collector ends now; it must,
        # before the children are asked to exit, or it would take their
        # exits for deaths.
        self._join_collector()
        if self._broken is not None or self._cancel_event.is_set():
            return
        self._request_queue.put(SHUTDOWN)
        # One for each thread of each worker: a thread stops at the first
        # it takes.
        for number in range(len(self._workers)):
            for _ in range(self._config.requests_of_worker(number)):
                self._job_queue.put(SHUTDOWN)
        for process in [self._submitter, *self._workers]:
            process.join(JOIN_TIMEOUT)
        if any(p.exitcode is None for p in [self._submitter, *self._workers]):
            self._terminate_children()
        self._manager.shutdown()
        for work_queue in (self._request_queue, self._job_queue):
            work_queue.close()
            work_queue.join_thread()

    def _join_collector(self):
        try:
            self._monitor.wake()
        except Exception:
            pass
        if self._collector is not threading.current_thread():
            self._collector.join()


class _WorkerStarter:
    """Starts workers in a thread of its own, one at a time, up to the
    number wanted so far.

    The first worker from the lean fork server waits for the server to
    import what a worker runs (~0.2 s); neither the parent's main thread
    (which lists and submits) nor the collector waits with it.
    """

    def __init__(self, start_one):
        self._start_one = start_one
        self._changed = threading.Condition()
        self._wanted = 1
        self._started = 1
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name='ppcp-starter',
                                        daemon=True)
        self._thread.start()

    def want(self, count):
        with self._changed:
            if count > self._wanted:
                self._wanted = count
                self._changed.notify()

    def stop(self):
        """Wait for a start in progress, for a bounded time: a start that
        never returns (a fork waiting for a lock that an interrupt left
        held) must not hang the shutdown with it; a worker it starts after
        all is terminated (``_start_later_worker``)."""
        with self._changed:
            self._stopped = True
            self._changed.notify()
        self._thread.join(JOIN_TIMEOUT)
        if self._thread.is_alive():
            logger.debug('The worker starter did not stop in %s s',
                         JOIN_TIMEOUT)

    def _run(self):
        while True:
            with self._changed:
                while not self._stopped and self._started >= self._wanted:
                    self._changed.wait()
                if self._stopped:
                    return
                self._started += 1
            try:
                self._start_one()
            except Exception:
                # The pool goes on with the workers it has.
                logger.debug('Could not start a worker', exc_info=True)
                return


def _remove_work_dirs(work_dir, fork_server_dir):
    """What the monitor removes when the parent is killed."""
    fileio.remove_work_dirs(work_dir)
    if fork_server_dir is not None:
        fileio.remove_tree(fork_server_dir)


@contextlib.contextmanager
def _gc_frozen_for_fork():
    """A forked child never collects the objects it inherited, so its garbage
    collector does not write to (and so copy) the pages it shares with the
    parent; the parent collects them as before. (Signals are held around
    every child's start by ``children.starting_children``.)"""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextlib.contextmanager
def _interrupts_deferred():
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _cancel_exception_type(exc_value):
    """As s3transfer decides: Ctrl-C cancels, anything else is fatal."""
    if isinstance(exc_value, KeyboardInterrupt) and not isinstance(
            exc_value, Terminated):
        return CancelledError
    return FatalError


def _call_on_queued(subscribers, future):
    """Run every ``on_queued`` hook; the first failure fails the transfer.

    s3transfer stops at the first failing hook, which can leave the CLI's
    result subscriber (the last hook) unaware of the transfer, so the failure
    is never printed: ``aws s3 cp`` to a path below an existing *file* prints
    nothing and exits 0. Running them all lets the failure be reported.
    """
    first_error = None
    for subscriber in subscribers:
        on_queued = getattr(subscriber, 'on_queued', None)
        if on_queued is None:
            continue
        try:
            on_queued(future=future)
        except Exception as e:
            logger.debug('on_queued of %s failed', subscriber, exc_info=True)
            if first_error is None:
                first_error = e
    return first_error


def _call_subscribers(pending, method_name, **kwargs):
    for subscriber in pending.subscribers:
        method = getattr(subscriber, method_name, None)
        if method is None:
            continue
        try:
            method(future=pending.future, **kwargs)
        except Exception:
            logger.debug('Subscriber %s.%s failed', subscriber, method_name,
                         exc_info=True)


def _describe_exit(exitcode):
    if exitcode < 0:
        try:
            return f'was killed by {signal.Signals(-exitcode).name}'
        except ValueError:
            return f'was killed by signal {-exitcode}'
    return f'exited unexpectedly with code {exitcode}'


def _validate_extra_args(extra_args):
    for name in extra_args:
        if name not in ALLOWED_DOWNLOAD_ARGS:
            raise ValueError(
                f"Invalid extra_args key '{name}', must be one of: "
                f"{', '.join(ALLOWED_DOWNLOAD_ARGS)}")
