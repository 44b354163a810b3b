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
