"""The parent's record of the transfers in flight (no processes)."""
from s3transfer.exceptions import CancelledError

from awscli_ppdl.futures import ProcessPoolTransferFuture
from awscli_ppdl.tracker import PendingTransfer, TransferTracker


def pending(tmp_path, name, parts, subscribers=()):
    temp = tmp_path / f'{name}.tmp'
    temp.write_bytes(b'partial')
    future = ProcessPoolTransferFuture(meta=None, on_cancel=lambda: None)
    return PendingTransfer(future, list(subscribers), str(temp), parts)


def test_planned_parts_follow_what_is_added_and_finished(tmp_path):
    tracker = TransferTracker()
    assert tracker.add(1, pending(tmp_path, 'a', 3)) == 3
    assert tracker.add(2, pending(tmp_path, 'b', 1)) == 4
    assert tracker.pop(1).parts == 3
    assert tracker.pop(1) is None
    assert tracker.add(3, pending(tmp_path, 'c', 5)) == 6
    assert len(tracker) == 2


def test_a_transfer_is_cancelled_once_and_the_children_told_once(tmp_path):
    tracker = TransferTracker()
    tracker.add(7, pending(tmp_path, 'a', 1))
    told = []
    first = CancelledError('first')
    tracker.cancel(7, first, told.append)
    tracker.cancel(7, CancelledError('second'), told.append)
    tracker.cancel(8, CancelledError('unknown'), told.append)
    assert told == [7]
    assert tracker.get(7).cancel_exception is first


def test_cancel_all_keeps_an_earlier_cancel_reason(tmp_path):
    tracker = TransferTracker()
    tracker.add(1, pending(tmp_path, 'a', 1))
    tracker.add(2, pending(tmp_path, 'b', 1))
    own = CancelledError('own')
    tracker.cancel(1, own, lambda transfer_id: None)
    everything = CancelledError('everything')
    tracker.cancel_all(everything)
    assert tracker.get(1).cancel_exception is own
    assert tracker.get(2).cancel_exception is everything


class DoneRecorder:
    def __init__(self):
        self.futures = []

    def on_done(self, future, **kwargs):
        self.futures.append(future)


def test_abandon_all_fails_every_transfer_and_removes_its_temp_file(
        tmp_path):
    tracker = TransferTracker()
    recorder = DoneRecorder()
    transfers = [pending(tmp_path, name, 2, [recorder]) for name in 'ab']
    for transfer_id, transfer in enumerate(transfers):
        tracker.add(transfer_id, transfer)
    error = RuntimeError('children gone')
    assert tracker.abandon_all(error) == []
    assert tracker.is_empty()
    assert tracker.add(9, pending(tmp_path, 'c', 1)) == 1
    for transfer in transfers:
        assert transfer.future.exception(timeout=0) is error
    assert recorder.futures == [t.future for t in transfers]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['c.tmp']


class FakePartial:
    """What a ``resume.Partial`` is asked, counted."""

    def __init__(self, kept_bytes):
        self.kept_bytes = kept_bytes
        self.calls = []

    def keep(self):
        self.calls.append('keep')
        return self.kept_bytes

    def discard(self):
        self.calls.append('discard')


def resumable(tmp_path, partial, kept):
    future = ProcessPoolTransferFuture(meta=None, on_cancel=lambda: None)
    temp = tmp_path / 'r.ppcp-tmp'
    temp.write_bytes(b'partial')
    return PendingTransfer(future, [], str(temp), 2, partial,
                           lambda p, nbytes: kept.append(nbytes))


def test_a_failed_resumable_download_keeps_its_parts_once(tmp_path):
    partial, kept = FakePartial(100), []
    transfer = resumable(tmp_path, partial, kept)
    assert transfer.keep_partial() == 100
    transfer.fail(CancelledError('x'))
    assert partial.calls == ['keep']
    assert kept == [100]
    assert (tmp_path / 'r.ppcp-tmp').exists()


def test_a_resumable_download_whose_parts_are_bad_discards_them(tmp_path):
    partial, kept = FakePartial(100), []
    resumable(tmp_path, partial, kept).fail(ValueError('changed'),
                                            keep_partial=False)
    assert partial.calls == ['discard']
    assert kept == []


def test_nothing_kept_is_not_noted(tmp_path):
    partial, kept = FakePartial(0), []
    resumable(tmp_path, partial, kept).fail(CancelledError('x'))
    assert partial.calls == ['keep']
    assert kept == []
