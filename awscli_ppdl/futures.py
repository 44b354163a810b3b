"""What a caller holds for each download: the seed's future and meta, and
the subscriber calls made on them.

The classes keep ``s3transfer.processpool``'s contract for what a user sees
(``BaseTransferFuture`` with ``meta``, ``done``, ``result``, ``cancel``; a
``ProcessPoolTransferMeta(transfer_id, call_args)`` with ``user_context``);
the meta is also s3transfer's ``TransferMeta`` (``size``,
``provide_transfer_size``), which the AWS CLI's subscribers use.
"""
import logging
import threading

from s3transfer.futures import BaseTransferFuture, TransferMeta

logger = logging.getLogger(__name__)


class ProcessPoolTransferMeta(TransferMeta):
    """The seed's meta: ``transfer_id``, ``call_args``, ``user_context``."""

    def __init__(self, transfer_id, call_args):
        super().__init__(call_args=call_args, transfer_id=transfer_id)
        self._last_modified = None

    @property
    def last_modified(self):
        """The object's Last-Modified (POSIX seconds) when its first GET
        told it (``ProcessTransferConfig.size_from_first_get``), else
        None."""
        return self._last_modified

    def provide_last_modified(self, last_modified):
        self._last_modified = last_modified


class ProcessPoolTransferFuture(BaseTransferFuture):
    """The future of one download; ``result()`` never waits for ever.

    ``on_cancel`` is what cancelling asks of the engine (cancel one
    transfer, or stop one stream); the engine resolves the future with
    ``set_done`` once the download has ended either way. ``on_wait``, if
    given, is called before a wait for a download not yet done: the
    engine sends the reports it holds for a batch.
    """

    def __init__(self, meta, on_cancel, on_wait=None):
        self._meta = meta
        self._on_cancel = on_cancel
        self._on_wait = on_wait
        self._done = threading.Event()
        self._exception = None

    @property
    def meta(self):
        return self._meta

    def done(self):
        return self._done.is_set()

    def result(self, timeout=None):
        """Wait for the download; a Ctrl-C meanwhile cancels it, as the
        seed's and s3transfer's futures do."""
        try:
            finished = self._wait(timeout)
        except KeyboardInterrupt:
            self.cancel()
            raise
        if not finished:
            raise TimeoutError('The download has not finished yet.')
        if self._exception is not None:
            raise self._exception

    def exception(self, timeout=None):
        """The download's error (None if it succeeded), once it has ended."""
        if not self._wait(timeout):
            raise TimeoutError('The download has not finished yet.')
        return self._exception

    def _wait(self, timeout):
        if self._on_wait is not None and not self._done.is_set():
            self._on_wait()
        return self._done.wait(timeout)

    def cancel(self):
        self._on_cancel()

    def set_done(self, exception=None):
        self._exception = exception
        self._done.set()


class ProgressCallback:
    """A plain callable as an ``on_progress`` subscriber."""

    def __init__(self, callback):
        self._callback = callback

    def on_progress(self, bytes_transferred, **kwargs):
        self._callback(bytes_transferred)


def call_on_queued(subscribers, future):
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


def call_subscribers(subscribers, future, method_name, **kwargs):
    """Call one hook of every subscriber; a failing one is only logged, as
    s3transfer does, so it cannot fail the download."""
    for subscriber in subscribers:
        method = getattr(subscriber, method_name, None)
        if method is None:
            continue
        try:
            method(future=future, **kwargs)
        except Exception:
            logger.debug('Subscriber %s.%s failed', subscriber, method_name,
                         exc_info=True)


def resolve(future, subscribers, exception=None):
    """End a download: its future, then its ``on_done`` hooks (the CLI's
    result line is printed from one)."""
    future.set_done(exception)
    call_subscribers(subscribers, future, 'on_done')
