"""The CLI's results, recorded and printed by the thread that reports them.

``aws s3 cp`` hands every result (queued, progress and done: three per
object) through a ``queue.Queue`` to a ``ResultProcessor`` thread, which
records and prints it. Each put wakes that thread, which then takes the GIL
from the thread that is submitting or collecting downloads: for 5,000 small
objects those 15,000 hand-offs were ~14 % of the command's CPU
(benchmarks/where-the-time-goes.md, *The CLI's result thread*). Here the
thread that puts a result runs the same handlers at once, one thread at a
time, so results are handled in the order they are put, as before, and no
thread is woken. The processor thread stays, with nothing to do but take
the CLI's shutdown request, so ``CommandResultRecorder`` drives it as ever.

The handlers now also run in the main thread (the ``on_queued`` results,
and warnings of the listing): a signal that stops the download there can
cut a line short, as it could cut any line the main thread prints.
"""
import queue
import threading

from awscli.customizations.s3.results import (
    ErrorResult, ResultProcessor, ShutdownThreadRequest)


class InlineResultQueue(queue.Queue):
    """A result queue whose results, once it has a handler
    (``InlineResultProcessor``), are handled in the putting thread; only
    the shutdown request is queued, for the processor thread."""

    def __init__(self):
        super().__init__()
        self._handling = threading.RLock()
        self._handle = None

    def handle_with(self, handle):
        self._handle = handle

    def put(self, item, block=True, timeout=None):
        if self._handle is None or isinstance(item, ShutdownThreadRequest):
            super().put(item, block, timeout)
            return
        with self._handling:
            self._handle(item)


class InlineResultProcessor(ResultProcessor):
    """The CLI's ``ResultProcessor``, handling each result as it is put on
    its ``InlineResultQueue``, before anything else is put on it."""

    def __init__(self, result_queue, result_handlers):
        super().__init__(result_queue, result_handlers)
        # (Not ``_handle``: a Thread's own attribute since Python 3.13.)
        result_queue.handle_with(self._handle_result)

    def _handle_result(self, result):
        # ResultProcessor.run's rule: after a fatal error the remaining
        # results are taken but no longer recorded or printed.
        if self._result_handlers_enabled:
            self._process_result(result)
        if isinstance(result, ErrorResult):
            self._result_handlers_enabled = False
