"""The transfers in flight, as the parent knows them.

s3transfer's ``TransferCoordinatorController`` in our terms: it tracks each
submitted download (its future, subscribers, temp file and planned GETs) and
each stream until they end, cancels them one at a time or all together, and
lets a graceful shutdown wait for them. It never talks to a child process.
"""
import threading

from awscli_ppdl import fileio
from awscli_ppdl.futures import resolve


class PendingTransfer:
    """One download to a file between its submission and its outcome."""

    __slots__ = ('future', 'subscribers', 'temp_filename', 'parts',
                 'cancel_exception', 'partial', '_on_kept', '_partial_ended')

    def __init__(self, future, subscribers, temp_filename, parts,
                 partial=None, on_kept=None):
        """:param partial: its ``resume.Partial`` if it is resumable.
        :param on_kept: called with the partial once it is kept."""
        self.future = future
        self.subscribers = subscribers
        self.temp_filename = temp_filename
        # The GETs planned for it: how many workers are worth starting.
        self.parts = parts
        # Set once it is cancelled: what its future fails with, whatever
        # outcome the children report afterwards.
        self.cancel_exception = None
        self.partial = partial
        self._on_kept = on_kept
        self._partial_ended = False

    def keep_partial(self):
        """Keep the parts a resumable download has written for a rerun,
        once; the bytes kept (0: nothing was, or it is not resumable).
        Called once no child writes its file."""
        if self.partial is None or self._partial_ended:
            return 0
        self._partial_ended = True
        kept = self.partial.keep()
        if kept:
            self._on_kept(self.partial, kept)
        return kept

    def fail(self, exception, keep_partial=True):
        """Fail its future; remove what it wrote, unless it is resumable
        and its parts are still good (``keep_partial``: not after the
        object changed or the file did not verify): those are kept for a
        rerun. Called once no child writes its file."""
        if self.partial is None:
            fileio.remove_quietly(self.temp_filename)
        elif keep_partial:
            self.keep_partial()
        elif not self._partial_ended:
            self._partial_ended = True
            self.partial.discard()
        resolve(self.future, self.subscribers, exception)

    def finished(self):
        """Its file was renamed into place: a resumable download's record
        (and lock) goes."""
        if self.partial is not None:
            self.partial.finish()


class TransferTracker:
    def __init__(self):
        self._lock = threading.Lock()
        self._pending = {}
        self._streams = set()
        # The sum of the pending transfers' parts, kept here only.
        self._planned_parts = 0
        self._kept = []

    def add(self, transfer_id, pending):
        """Track a transfer; the GETs planned for all of them now."""
        with self._lock:
            self._pending[transfer_id] = pending
            self._planned_parts += pending.parts
            return self._planned_parts

    def get(self, transfer_id):
        with self._lock:
            return self._pending.get(transfer_id)

    def pop(self, transfer_id):
        """Stop tracking a transfer that has an outcome (None if it was
        abandoned meanwhile)."""
        with self._lock:
            pending = self._pending.pop(transfer_id, None)
            if pending is not None:
                self._planned_parts -= pending.parts
            return pending

    def cancel(self, transfer_id, exception, tell_children):
        """Mark one transfer cancelled, once. ``tell_children`` runs under
        the lock, so that the transfer cannot be finished (and the cancel
        forgotten by the monitor) before the monitor has received it."""
        with self._lock:
            pending = self._pending.get(transfer_id)
            if pending is None or pending.cancel_exception is not None:
                return
            pending.cancel_exception = exception
            tell_children(transfer_id)

    def cancel_all(self, exception):
        """What is finished from now on fails with ``exception`` (the
        children's last reports too), unless it was cancelled already."""
        with self._lock:
            for pending in self._pending.values():
                if pending.cancel_exception is None:
                    pending.cancel_exception = exception

    def abandon_all(self, exception):
        """Fail every transfer at once (the children are gone); the streams
        are returned, to be stopped by the caller."""
        with self._lock:
            abandoned = list(self._pending.values())
            self._pending.clear()
            self._planned_parts = 0
            streams = list(self._streams)
        for pending in abandoned:
            pending.fail(exception)
        return streams

    def keep_partials(self):
        """Keep what every resumable download in flight has written (the
        children are stopped); how many kept something."""
        with self._lock:
            pending = list(self._pending.values())
        return sum(1 for p in pending if p.keep_partial())

    def note_kept(self, partial, nbytes):
        """A resumable download ended early with ``nbytes`` kept."""
        with self._lock:
            self._kept.append((partial.filename, partial.temp_filename,
                               nbytes, partial.identity.size))

    def kept_partials(self):
        with self._lock:
            return list(self._kept)

    def add_stream(self, stream):
        with self._lock:
            self._streams.add(stream)

    def discard_stream(self, stream):
        with self._lock:
            self._streams.discard(stream)

    def futures(self):
        """The futures of everything in flight, streams included."""
        with self._lock:
            return ([p.future for p in self._pending.values()]
                    + [s.future for s in self._streams])

    def is_empty(self):
        with self._lock:
            return not self._pending and not self._streams

    def __len__(self):
        """How many downloads to files are in flight (not streams)."""
        with self._lock:
            return len(self._pending)
