"""The children's log records, shown by the parent as its own.

A child's botocore, urllib3 and engine loggers write to a queue; a thread in
the parent hands each record to the parent's logger of the same name, so
``--debug`` shows every process's requests on the parent's stderr, in the
CLI's format, with the process name in front of the thread name
(``ppcp-worker-3/MainThread``). Records below the parent's level are not
even sent.
"""
import logging
import logging.handlers
import multiprocessing.connection
import queue
import threading
from typing import Any, NamedTuple

FORWARDED_LOGGERS = ('', 'awscli_ppdl', 'botocore', 'awscli', 's3transfer',
                     'urllib3')
# How long shutdown waits for the last records before it leaves them.
STOP_TIMEOUT = 5.0


class ChildLogging(NamedTuple):
    """What a child needs to send its records to the parent."""

    queue: Any
    level: int


def parent_log_level():
    """The most verbose level at which the parent would write a record.

    A logger's level alone says too little: without ``--debug`` the CLI sets
    the ``awscli`` logger to DEBUG with an ERROR handler, and forwarding at
    DEBUG would make every child build, pickle and send botocore's debug
    records (most of a worker's CPU time) for the parent to drop.
    """
    return min(_emitting_level(logging.getLogger(name))
               for name in FORWARDED_LOGGERS)


def _emitting_level(logger):
    handler_levels = []
    current = logger
    while current is not None:
        handler_levels += [handler.level for handler in current.handlers]
        if not current.propagate:
            break
        current = current.parent
    if not handler_levels:
        last_resort = logging.lastResort
        handler_levels = [logging.CRITICAL + 1 if last_resort is None
                          else last_resort.level]
    return max(logger.getEffectiveLevel(), min(handler_levels))


def send_records_to_parent(child_logging):
    """In a child: every record at the parent's level goes to the queue."""
    root = logging.getLogger()
    root.addHandler(logging.handlers.QueueHandler(child_logging.queue))
    root.setLevel(child_logging.level)


class ChildLogReceiver:
    """In the parent: a daemon thread that logs what the children send.

    It is not a ``QueueListener``, which is stopped by a record put on the
    queue and joins its thread without a timeout: a child killed while it
    held the queue's write lock (which all writers share) keeps that record
    from ever being sent. After the children were killed, the thread
    instead reads until the queue is empty; a child killed in the middle
    of a record can still leave it unreadable, so the thread is abandoned
    after ``STOP_TIMEOUT``.

    The thread waits on the queue's pipe and on a wake-up pipe of its own
    together (as ``concurrent.futures.process`` wakes its manager thread),
    not on the queue with a timeout: it does not wake up 20 times a second
    for nothing during a download, and a stop after a kill ends it as soon
    as the queue is empty, not at its next poll.
    """

    def __init__(self, context):
        self.config = ChildLogging(context.Queue(), parent_log_level())
        self._wakeup_reader, self._wakeup_writer = (
            multiprocessing.connection.Pipe(duplex=False))
        self._thread = threading.Thread(target=self._receive,
                                        name='ppcp-child-logs', daemon=True)

    def start(self):
        """Receive from now on: after the children that are forked at once
        (a fork while this thread runs could copy a lock it holds)."""
        self._thread.start()

    def stop(self, children_killed=False):
        if children_killed:
            self._wakeup_writer.send_bytes(b'')
        else:
            self.config.queue.put(None)
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT)
        self.config.queue.cancel_join_thread()
        self.config.queue.close()
        self._wakeup_writer.close()
        if not self._thread.is_alive():
            self._wakeup_reader.close()

    def _receive(self):
        # The queue's reading end: a private attribute, which CPython's
        # ProcessPoolExecutor waits on the same way (its result queue's).
        records = self.config.queue._reader
        while True:
            try:
                ready = multiprocessing.connection.wait(
                    [records, self._wakeup_reader])
                if records not in ready:
                    return   # Woken after a kill, and nothing left to read.
                record = self.config.queue.get(block=False)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            if record is None:
                return
            record.threadName = f'{record.processName}/{record.threadName}'
            logger = logging.getLogger(record.name)
            if logger.isEnabledFor(record.levelno):
                logger.handle(record)
