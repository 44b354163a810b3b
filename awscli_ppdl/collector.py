"""The parent's collector thread: results in, futures out, children watched.

CPython's ``_ExecutorManagerThread`` in our terms. One thread takes finished
transfers and progress from the monitor in batches, renames complete temp
files into place (only the parent ever renames, so nothing appears at a
destination after the parent is gone) and resolves futures. Between batches
it looks at the children: if the submitter, a worker or the monitor's
manager died, it reports the pool broken (the downloader then fails every
transfer in flight), so that no ``result()`` waits for ever. It is also the
parent's clock for refreshing the children's credentials.
"""
import logging
import threading

from s3transfer.exceptions import CancelledError

from awscli_ppdl import checksums, fileio
from awscli_ppdl.futures import call_subscribers, resolve
from awscli_ppdl.records import ObjectChangedError

logger = logging.getLogger(__name__)

# How long the collector waits for news before it looks at the children.
SUPERVISION_INTERVAL = 0.2
# How long stopping waits for the thread: it ends within one collect, or
# at once when the monitor is gone; a thread stuck beyond that (a call to
# the monitor that never returns) must not hang the command's exit.
STOP_TIMEOUT = 10.0


class ResultCollector:
    def __init__(self, children, tracker, publisher, on_broken):
        """
        :param children: the ``pool.ChildProcesses`` to watch.
        :param tracker: the ``tracker.TransferTracker`` of what is in flight.
        :param publisher: the ``publishing.Publisher``, for credentials.
        :param on_broken: called (in this thread) with a description of what
            died; the collector ends after it.
        """
        self._children = children
        self._monitor = children.monitor
        self._tracker = tracker
        self._publisher = publisher
        self._on_broken = on_broken
        self._stop_requested = threading.Event()
        self._thread = threading.Thread(target=self._run,
                                        name='ppcp-collector', daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        """End the thread once nothing is in flight; it must have ended
        before the children are asked to exit, or it would take their
        exits for deaths."""
        self._stop_requested.set()
        try:
            self._monitor.wake()
        except Exception:
            pass
        if self._thread is not threading.current_thread():
            self._thread.join(STOP_TIMEOUT)
            if self._thread.is_alive():
                logger.debug('The collector did not stop in %s s',
                             STOP_TIMEOUT)

    def _run(self):
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
                if not self._children.cancelled:
                    self._on_broken(
                        self._children.describe_monitor_failure(e))
                return
            forget_cancelled = []
            for transfer_id, sized in events.sized:
                self._provide_size(transfer_id, sized)
            for transfer_id, nbytes in events.progress:
                self._notify_progress(transfer_id, nbytes)
            for outcome in events.outcomes:
                if self._finish(outcome) or outcome.cancelled:
                    forget_cancelled.append(outcome.transfer_id)
            dead = self._children.find_dead_child()
            if dead is not None and not self._children.cancelled:
                # (After a cancel, the parent is terminating them itself.)
                self._on_broken(dead)
                return
            self._publisher.refresh_credentials()
            if self._stop_requested.is_set() and self._tracker.is_empty():
                return

    def _provide_size(self, transfer_id, sized):
        """What a first GET learned of an object of unknown size, on its
        meta before its progress and outcome: the CLI's progress total
        grows by it, and its subscribers give the file that mtime."""
        pending = self._tracker.get(transfer_id)
        if pending is not None:
            pending.future.meta.provide_transfer_size(sized.size)
            pending.future.meta.provide_last_modified(sized.last_modified)

    def _notify_progress(self, transfer_id, nbytes):
        pending = self._tracker.get(transfer_id)
        if pending is not None:
            call_subscribers(pending.subscribers, pending.future,
                             'on_progress', bytes_transferred=nbytes)

    def _finish(self, outcome):
        """Resolve a finished transfer; True if a cancel was asked for it
        (so the monitor can forget the cancel, even one that came late)."""
        pending = self._tracker.pop(outcome.transfer_id)
        if pending is None:
            return False
        if pending.cancel_exception is not None or outcome.cancelled:
            pending.fail(pending.cancel_exception or CancelledError(
                'The download was cancelled.'))
        elif outcome.error is not None:
            error = outcome.error.to_exception()
            # Parts of a replaced object are worth nothing to a rerun.
            pending.fail(error, keep_partial=not isinstance(
                error, ObjectChangedError))
        else:
            try:
                if outcome.part_crcs is not None:
                    # A CRC: combined from the parts' CRCs, no read.
                    checksums.verify_part_crcs(*outcome.checksum,
                                               outcome.part_crcs)
                elif outcome.checksum is not None:
                    # SHA1 or SHA256: they do not combine, so the file
                    # is read once more.
                    checksums.verify_file(pending.temp_filename,
                                          *outcome.checksum)
                fileio.finalize(pending.temp_filename,
                                pending.future.meta.call_args.filename,
                                outcome.bytes_written)
            except Exception as e:
                pending.fail(e, keep_partial=False)
            else:
                pending.finished()
                resolve(pending.future, pending.subscribers)
        return pending.cancel_exception is not None
