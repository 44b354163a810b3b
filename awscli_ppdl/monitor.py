"""The transfer monitor: shared state of in-flight transfers, in a manager.

Workers report each finished job here (one round trip per job); the parent
takes finished transfers and progress out in batches (one round trip for many
transfers). A transfer's state exists only while it is in flight: it becomes a
``TransferOutcome`` when its last job reports, and the outcome is dropped when
the parent collects it, so the monitor's memory is bounded by the transfers in
flight, however many a long-lived downloader runs.
"""
import collections
import threading
from multiprocessing.managers import BaseManager

from awscli_ppdl.records import CollectedEvents, TransferOutcome


class _TransferState:
    __slots__ = ('parts_done', 'bytes_written', 'error', 'cancelled',
                 'checksum', 'part_crcs')

    def __init__(self):
        self.parts_done = 0
        self.bytes_written = 0
        self.error = None
        self.cancelled = False
        self.checksum = None
        self.part_crcs = None  # {part index: (crc, length)}


class TransferMonitor:
    def __init__(self):
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._states = {}
        self._outcomes = collections.deque()
        self._progress = collections.defaultdict(int)
        self._sized = []
        self._cancelled = set()
        self._woken = False
        self._credentials = None
        self._templates = {}

    def should_run(self, transfer_id):
        """Whether a job of this transfer is still worth doing."""
        with self._lock:
            if transfer_id in self._cancelled:
                return False
            state = self._states.get(transfer_id)
            return state is None or state.error is None

    def notify_progress(self, transfer_id, nbytes):
        with self._lock:
            self._progress[transfer_id] += nbytes
            self._changed.notify_all()

    def notify_job_done(self, transfer_id, num_parts, nbytes=0, error=None,
                        cancelled=False, progress=None, part_crc=None,
                        sized=None):
        """Record one finished (or failed, or skipped) job of a transfer.

        The first error of a transfer is the one reported: later jobs are
        skipped because of it and their errors would only be noise. A job
        skipped because everything is being cancelled marks its transfer
        cancelled, so a skipped part is never mistaken for a complete one.
        ``progress`` is the part of ``nbytes`` not yet reported by
        ``notify_progress`` (all of it when None). ``part_crc`` is
        ``(part index, crc, length)`` of a part whose CRC was asked for.
        ``sized`` is the ``ObjectSized`` of a first GET that sized its
        object (``sizing``), for the parent.
        """
        with self._lock:
            self._record_job_done(transfer_id, num_parts, nbytes, error,
                                  cancelled, progress, part_crc, sized)
            self._changed.notify_all()

    def notify_jobs_done(self, reports):
        """Several ``notify_job_done`` argument tuples in one round trip."""
        with self._lock:
            for report in reports:
                self._record_job_done(*report)
            self._changed.notify_all()

    def _record_job_done(self, transfer_id, num_parts, nbytes=0, error=None,
                         cancelled=False, progress=None, part_crc=None,
                         sized=None):
        if sized is not None:
            self._sized.append((transfer_id, sized))
        progress = nbytes if progress is None else progress
        if progress:
            self._progress[transfer_id] += progress
        state = self._state(transfer_id)
        if error is not None and state.error is None:
            state.error = error
        state.cancelled = state.cancelled or cancelled
        state.parts_done += 1
        state.bytes_written += nbytes
        if part_crc is not None:
            if state.part_crcs is None:
                state.part_crcs = {}
            index, crc, length = part_crc
            state.part_crcs[index] = (crc, length)
        if state.parts_done >= num_parts:
            del self._states[transfer_id]
            self._outcomes.append(
                self._outcome_for(transfer_id, state, num_parts))

    def expect_checksum(self, transfer_id, checksum):
        """The submitter found the object's full-object checksum; it is
        handed to the parent with the transfer's outcome."""
        with self._lock:
            self._state(transfer_id).checksum = checksum

    def notify_request_failed(self, transfer_id, error):
        """A transfer failed before any job was planned (e.g. HeadObject)."""
        with self._lock:
            self._states.pop(transfer_id, None)
            self._outcomes.append(self._outcome_for(transfer_id, _failed(error)))
            self._changed.notify_all()

    def cancel(self, transfer_ids):
        with self._lock:
            self._cancelled.update(transfer_ids)

    def collect(self, timeout, forget_cancelled=()):
        """Wait up to ``timeout`` for news; hand over and drop what is done.

        ``forget_cancelled`` names cancelled transfers whose outcome the parent
        has received, so the cancelled set stays as small as the in-flight set.
        """
        with self._lock:
            self._cancelled.difference_update(forget_cancelled)
            if not self._outcomes and not self._progress and not self._woken:
                self._changed.wait(timeout)
            self._woken = False
            outcomes = list(self._outcomes)
            self._outcomes.clear()
            progress = list(self._progress.items())
            self._progress.clear()
            sized = tuple(self._sized)
            self._sized.clear()
            return CollectedEvents(outcomes, progress, sized)

    def wake(self):
        """Let a waiting ``collect`` return now, or the next one if none is
        waiting (the parent is shutting down).

        The wake is kept until a ``collect`` takes it: the parent's
        collector may be between two calls (resolving a future, looking at
        the children) when the parent wakes it, and a bare notify would be
        lost; its next ``collect`` would then wait a whole supervision
        interval before the collector saw that the parent was closing."""
        with self._lock:
            self._woken = True
            self._changed.notify_all()

    def publish_credentials(self, credentials):
        """The parent's latest ``FrozenCredentials``, for the children."""
        self._credentials = credentials

    def current_credentials(self):
        return self._credentials

    def publish_template(self, bucket, template):
        """The parent's GetObject ``RequestTemplate`` for a bucket."""
        self._templates[bucket] = template

    def template(self, bucket):
        return self._templates.get(bucket)

    def state_size(self):
        """How many entries the monitor holds: for tests of its bound."""
        with self._lock:
            return (len(self._states) + len(self._outcomes)
                    + len(self._progress) + len(self._cancelled)
                    + len(self._sized))

    def _state(self, transfer_id):
        """A transfer's state, created when the first news of it arrives."""
        state = self._states.get(transfer_id)
        if state is None:
            state = self._states[transfer_id] = _TransferState()
        return state

    def _outcome_for(self, transfer_id, state, num_parts=None):
        cancelled = state.cancelled or transfer_id in self._cancelled
        part_crcs = None
        if (state.part_crcs is not None
                and len(state.part_crcs) == num_parts):
            part_crcs = tuple(state.part_crcs[index]
                              for index in range(num_parts))
        return TransferOutcome(transfer_id, state.error, cancelled,
                               state.bytes_written, state.checksum,
                               part_crcs)


def _failed(error):
    state = _TransferState()
    state.error = error
    return state


class TransferMonitorManager(BaseManager):
    pass


TransferMonitorManager.register('TransferMonitor', TransferMonitor)
