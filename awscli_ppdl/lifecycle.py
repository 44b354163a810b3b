"""The downloader's processes from start to stop, as one explicit phase.

IDLE: no processes; the next download starts them (also after a
``shutdown()``, as the seed does). RUNNING. CLOSING: a graceful shutdown
waits for what is in flight (a stream may still fetch its last ranges).
CANCELLING: the children are being stopped; nothing new is accepted.
BROKEN: a child died; everything fails with the error that names it, until
``shutdown()`` clears it. Every change of phase happens under one lock,
together with what it decides (admitting a download, starting children).
"""
import contextlib
import enum
import logging
import signal
import threading
from typing import NamedTuple

from awscli_ppdl.children import starting_children
from awscli_ppdl.clientfactory import ClientFactory
from awscli_ppdl.collector import ResultCollector
from awscli_ppdl.exceptions import (
    ProcessPoolBrokenError, cancel_exception_type)
from awscli_ppdl.getobject import HttpSessionSettings
from awscli_ppdl.pool import ChildProcesses
from awscli_ppdl.publishing import Publisher

logger = logging.getLogger(__name__)

# How long a cancelled stream gets to clean up.
STREAM_STOP_TIMEOUT = 5.0


class Phase(enum.Enum):
    IDLE = 'no processes'
    RUNNING = 'running'
    CLOSING = 'waiting for the downloads in flight'
    CANCELLING = 'cancelling'
    BROKEN = 'broken'


class Running(NamedTuple):
    """What exists while there are processes."""

    client_factory: ClientFactory
    children: ChildProcesses
    publisher: Publisher
    collector: ResultCollector


class PoolLifecycle:
    def __init__(self, config, client_factory, credentials,
                 resolve_credentials, tracker):
        """
        :param resolve_credentials: whether the factory's credentials are
            left to us (the seed's ``client_kwargs`` without keys): they
            are resolved once, in the parent, at each start.
        :param tracker: the ``tracker.TransferTracker`` of what is in
            flight, failed here when the children stop before it ends.
        """
        self._config = config
        self._client_factory = client_factory
        self._credentials = credentials
        self._resolve_credentials = resolve_credentials
        self._tracker = tracker
        self._lock = threading.RLock()
        self._phase = Phase.IDLE
        self._broken = None
        self._running = None
        self._many_files = False

    @property
    def running(self):
        """What is running (a ``Running``), or None when idle."""
        return self._running

    def check_usable(self, for_stream=False):
        """Raise if nothing new may start; a stream's ranges may while a
        graceful shutdown waits for that stream."""
        with self._lock:
            self._raise_if_unusable(for_stream)

    def check_current(self, running, for_stream=False):
        """``check_usable``, and that ``running`` is still this start's."""
        with self._lock:
            self._raise_if_unusable(for_stream)
            if self._running is not running:
                raise RuntimeError('The downloader has been shut down.')

    def start(self, workers, many_files=False):
        """:param many_files: the caller will submit many files, until it
            waits for them or shuts down: their reports may travel in
            batches (``records.DownloadRequest.more_to_come``)."""
        with self._lock:
            self._raise_if_unusable()
            self._many_files = self._many_files or many_files
            return self._start_if_needed(workers)

    @property
    def many_files(self):
        return self._many_files

    def admit(self, transfer_id, pending, for_stream):
        """Track a transfer and make sure there are processes and workers
        for it; what is running."""
        with self._lock:
            self._raise_if_unusable(for_stream)
            # Tracked first: a Ctrl-C during the start-up (which holds it
            # to its end) cancels this transfer too, as the CLI expects of
            # one it was told is queued.
            planned_parts = self._tracker.add(transfer_id, pending)
            running = self._start_if_needed(planned_parts)
            running.children.want_workers(planned_parts)
            return running

    def admit_stream(self, stream):
        with self._lock:
            self._raise_if_unusable()
            running = self._start_if_needed(
                self._config.max_request_processes)
            self._tracker.add_stream(stream)
            return running

    def cancel_transfer(self, transfer_id, exception):
        running = self._running
        if running is None:
            return

        def tell_monitor(transfer_id):
            try:
                running.children.monitor.cancel([transfer_id])
            except Exception:
                logger.debug('Could not tell the monitor about a cancel',
                             exc_info=True)

        self._tracker.cancel(transfer_id, exception, tell_monitor)

    def reports_wanted(self):
        """A caller waits for a download: the workers send the reports
        they hold for a batch (``ChildProcesses.want_reports``)."""
        running = self._running
        if running is not None:
            running.children.want_reports()

    def shutdown(self, cancel, cancel_exception):
        """Wait for what is in flight (or with ``cancel``, fail it with
        ``cancel_exception``), then stop the processes: back to IDLE."""
        with self._lock:
            # Once per start; after a broken pool too, so that what the
            # processes leave (sockets, threads, directories) goes.
            running = self._running
            if running is None or self._phase in (Phase.CLOSING,
                                                  Phase.CANCELLING):
                return
            if self._phase is Phase.RUNNING:
                self._phase = Phase.CANCELLING if cancel else Phase.CLOSING
        try:
            if cancel:
                self._cancel_everything(running, cancel_exception)
            else:
                self._wait_for_everything()
        except KeyboardInterrupt as interrupt:
            self._cancel_everything(running, cancel_exception_type(
                interrupt)(str(interrupt) or repr(interrupt)))
            raise
        finally:
            running.collector.stop()
            running.children.close(graceful=self._phase is Phase.CLOSING)
            with self._lock:
                self._running = None
                self._broken = None
                self._many_files = False
                self._phase = Phase.IDLE

    def _raise_if_unusable(self, for_stream=False):
        if self._phase is Phase.BROKEN:
            raise self._broken
        graceful_stream_end = for_stream and self._phase is Phase.CLOSING
        if (self._phase in (Phase.CLOSING, Phase.CANCELLING)
                and not graceful_stream_end):
            raise RuntimeError('The downloader has been shut down.')

    def _start_if_needed(self, workers):
        """:param workers: how many workers the downloads so far need."""
        if self._running is not None:
            return self._running
        if self._resolve_credentials:
            self._client_factory, self._credentials = (
                self._client_factory.with_resolved_credentials())
        frozen = self._client_factory.credentials
        # Lean workers only where there will be enough of them to pay for
        # their fork server, and where they need no client: with
        # credentials to sign the parent's templates with.
        expected_workers = (self._config.max_request_processes
                            if workers > 1 and frozen is not None else 1)
        children = ChildProcesses(self._config, self._client_factory,
                                  expected_workers)
        # Everything started is recorded before a Ctrl-C can stop it; the
        # children forked from here are forked before any thread of ours
        # runs (``pool``).
        with starting_children():
            monitor = children.start_monitor()
            client = (None if frozen is None
                      else self._client_factory.create_client())
            publisher = Publisher(monitor, client, self._credentials, frozen)
            children.start_submitter_and_workers(
                None if client is None
                else HttpSessionSettings.of_client(client), workers)
            collector = ResultCollector(children, self._tracker, publisher,
                                        self._break)
            self._running = Running(self._client_factory, children,
                                    publisher, collector)
            self._phase = Phase.RUNNING
            children.start_threads()
            collector.start()
        return self._running

    def _break(self, what_died):
        """In the collector thread: a child died. The error says whether
        partial downloads were kept to resume, once they are."""
        stopped = (f'Download aborted: {what_died}; the downloads in '
                   'progress were stopped and their temporary files removed')
        broken = ProcessPoolBrokenError(stopped + '.')
        logger.debug('Process pool broken: %s', what_died)
        with self._lock:
            self._broken = broken
            self._phase = Phase.BROKEN
            running = self._running
        running.children.terminate()
        if self._tracker.keep_partials():
            broken = ProcessPoolBrokenError(
                stopped + ', except the partial downloads kept to resume.')
            with self._lock:
                self._broken = broken
        self._abandon_all(broken)

    def _wait_for_everything(self):
        while True:
            futures = self._tracker.futures()
            if not futures:
                return
            for future in futures:
                future.exception()

    def _cancel_everything(self, running, exception):
        """Stop now: a cancelled download's bytes are not worth waiting for.

        The children are stopped first, so that no process is still creating
        or writing a temp file when the parent removes it; a second Ctrl-C
        does not cut this short.
        """
        with _interrupts_deferred():
            with self._lock:
                if self._phase is not Phase.BROKEN:
                    self._phase = Phase.CANCELLING
            # What the collector finishes from now on (the children's last
            # reports) fails with the cancel's reason too: a FatalError's
            # ``fatal error`` line is the one the CLI prints, not a plain
            # cancel's ``cancelled: ctrl-c received``, nor an error the
            # cancel itself caused.
            self._tracker.cancel_all(exception)
            running.children.cancel()
            running.children.terminate()
            self._abandon_all(exception)

    def _abandon_all(self, exception):
        for stream in self._tracker.abandon_all(exception):
            # A stream fails with its ranges; let it remove its temp
            # directory (unless its reader has stalled it on a write).
            stream.cancel()
            stream.join(STREAM_STOP_TIMEOUT)


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
