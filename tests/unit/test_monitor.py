"""TransferMonitor: job completion, first error, cancellation, bounded state.

The monitor is used in-process here; under the pool it is the same object
hosted by a multiprocessing manager.
"""
import awscli  # noqa: F401  (before botocore: selects the vendored copy)

import pickle
import threading

from awscli_ppdl.monitor import TransferMonitor, TransferMonitorManager
from awscli_ppdl.records import CollectedEvents, ErrorSummary, TransferOutcome

NOTHING = CollectedEvents([], [])


def error(message):
    return ErrorSummary('NoSuchKey', message, error_code='NoSuchKey',
                        http_status=404, operation_name='GetObject')


def test_three_parts_make_one_outcome_after_the_third():
    monitor = TransferMonitor()
    monitor.notify_job_done(7, 3, 100)
    monitor.notify_job_done(7, 3, 100)
    events = monitor.collect(0)
    assert events.outcomes == []
    assert events.progress == [(7, 200)]

    monitor.notify_job_done(7, 3, 50)
    events = monitor.collect(0)
    assert events.outcomes == [TransferOutcome(7, None, False, 250)]
    assert events.progress == [(7, 50)]
    assert monitor.state_size() == 0


def test_outcome_is_not_repeated_by_the_next_collect():
    monitor = TransferMonitor()
    monitor.notify_job_done(1, 1, 10)
    assert monitor.collect(0).outcomes == [TransferOutcome(1, None, False, 10)]
    assert monitor.collect(0) == NOTHING


def test_transfers_are_counted_separately():
    monitor = TransferMonitor()
    monitor.notify_job_done(1, 2, 5)
    monitor.notify_job_done(2, 2, 7)
    monitor.notify_job_done(2, 2, 7)
    events = monitor.collect(0)
    assert events.outcomes == [TransferOutcome(2, None, False, 14)]
    assert sorted(events.progress) == [(1, 5), (2, 14)]
    monitor.notify_job_done(1, 2, 5)
    assert monitor.collect(0).outcomes == [TransferOutcome(1, None, False, 10)]


def test_the_first_error_wins():
    monitor = TransferMonitor()
    first, second = error('first'), error('second')
    monitor.notify_job_done(3, 3, 10)
    monitor.notify_job_done(3, 3, 0, first)
    monitor.notify_job_done(3, 3, 0, second)
    (outcome,) = monitor.collect(0).outcomes
    assert outcome.error == first
    assert outcome.error.message == 'first'
    assert outcome.cancelled is False
    assert outcome.bytes_written == 10


def test_should_run_is_false_after_a_failure():
    monitor = TransferMonitor()
    assert monitor.should_run(4) is True
    monitor.notify_job_done(4, 3, 10)
    assert monitor.should_run(4) is True
    monitor.notify_job_done(4, 3, 0, error('boom'))
    assert monitor.should_run(4) is False
    assert monitor.should_run(5) is True


def test_should_run_is_false_after_cancel():
    monitor = TransferMonitor()
    monitor.cancel([1, 2])
    assert monitor.should_run(1) is False
    assert monitor.should_run(2) is False
    assert monitor.should_run(3) is True


def test_cancelled_transfer_outcome_is_marked_cancelled():
    monitor = TransferMonitor()
    monitor.notify_job_done(1, 2, 10)
    monitor.cancel([1])
    monitor.notify_job_done(1, 2, 0)
    monitor.notify_job_done(2, 1, 5)
    outcomes = monitor.collect(0).outcomes
    assert outcomes == [TransferOutcome(1, None, True, 10),
                        TransferOutcome(2, None, False, 5)]


def test_progress_is_aggregated_per_transfer_and_cleared_by_collect():
    monitor = TransferMonitor()
    monitor.notify_progress(1, 10)
    monitor.notify_progress(2, 3)
    monitor.notify_progress(1, 5)
    monitor.notify_job_done(2, 2, 4)
    events = monitor.collect(0)
    assert events.outcomes == []
    assert dict(events.progress) == {1: 15, 2: 7}
    assert len(events.progress) == 2
    assert monitor.collect(0).progress == []


def test_job_without_bytes_reports_no_progress():
    monitor = TransferMonitor()
    monitor.notify_job_done(1, 2, 0, error('x'))
    assert monitor.collect(0).progress == []


def test_request_failure_produces_an_outcome():
    monitor = TransferMonitor()
    failure = ErrorSummary('ClientError', 'Not Found', error_code='404',
                           http_status=404, operation_name='HeadObject')
    monitor.notify_request_failed(8, failure)
    events = monitor.collect(0)
    assert events.outcomes == [TransferOutcome(8, failure, False, 0)]
    assert events.progress == []
    assert monitor.state_size() == 0


def test_request_failure_drops_partial_state():
    monitor = TransferMonitor()
    monitor.notify_job_done(8, 3, 10)
    monitor.notify_request_failed(8, error('gone'))
    events = monitor.collect(0)
    assert events.outcomes == [TransferOutcome(8, error('gone'), False, 0)]
    assert monitor.state_size() == 0


def test_state_returns_to_zero_after_many_transfers():
    monitor = TransferMonitor()
    collected = 0
    total_bytes = 0
    for transfer_id in range(20_000):
        monitor.notify_job_done(transfer_id, 1, 3)
        if transfer_id % 1000 == 999:
            assert monitor.state_size() == 2000  # 1000 outcomes + progress
            events = monitor.collect(0)
            collected += len(events.outcomes)
            total_bytes += sum(o.bytes_written for o in events.outcomes)
            assert monitor.state_size() == 0
    assert collected == 20_000
    assert total_bytes == 60_000
    assert monitor.state_size() == 0


def test_in_flight_state_is_counted_until_the_last_part():
    monitor = TransferMonitor()
    for transfer_id in range(10):
        monitor.notify_job_done(transfer_id, 2, 0)
    assert monitor.state_size() == 10
    for transfer_id in range(10):
        monitor.notify_job_done(transfer_id, 2, 0)
    assert monitor.state_size() == 10  # the outcomes, until collected
    assert len(monitor.collect(0).outcomes) == 10
    assert monitor.state_size() == 0


def test_cancelled_set_is_emptied_by_forget_cancelled():
    monitor = TransferMonitor()
    ids = list(range(100))
    monitor.cancel(ids)
    for transfer_id in ids:
        monitor.notify_job_done(transfer_id, 1, 0)
    events = monitor.collect(0)
    assert all(o.cancelled for o in events.outcomes)
    assert len(events.outcomes) == 100
    assert monitor.state_size() == 100  # the cancelled ids
    events = monitor.collect(0, forget_cancelled=ids[:60])
    assert events == NOTHING
    assert monitor.state_size() == 40
    assert monitor.should_run(0) is True
    assert monitor.should_run(99) is False
    monitor.collect(0, forget_cancelled=ids[60:])
    assert monitor.state_size() == 0


def test_collect_with_timeout_returns_empty_when_nothing_happened():
    monitor = TransferMonitor()
    assert monitor.collect(0) == NOTHING
    assert monitor.collect(0.01) == NOTHING
    monitor.wake()
    assert monitor.collect(0) == NOTHING


def test_collected_events_pickle():
    monitor = TransferMonitor()
    monitor.notify_job_done(1, 1, 3, error('x'))
    monitor.notify_progress(2, 4)
    events = monitor.collect(0)
    assert pickle.loads(pickle.dumps(events)) == events


def test_monitor_through_a_manager_proxy():
    manager = TransferMonitorManager()
    manager.start()
    try:
        monitor = manager.TransferMonitor()
        monitor.notify_job_done(1, 3, 5)
        assert monitor.should_run(1) is True
        monitor.notify_job_done(1, 3, 6, error('remote'))
        assert monitor.should_run(1) is False
        assert monitor.collect(0).outcomes == []
        monitor.notify_job_done(1, 3, 0)
        events = monitor.collect(0)
        assert events.outcomes == [TransferOutcome(1, error('remote'), False,
                                                   11)]
        assert events.progress == []
        assert monitor.state_size() == 0
    finally:
        manager.shutdown()


def test_a_wake_before_collect_is_not_lost():
    """The parent's collector may be between two ``collect`` calls when
    shutdown wakes it: its next ``collect`` returns at once instead of
    waiting out its timeout (an hour here, so a lost wake-up would only end
    at the 30 s guard)."""
    monitor = TransferMonitor()
    monitor.wake()
    collected = []
    collector = threading.Thread(
        target=lambda: collected.append(monitor.collect(3600)), daemon=True)
    collector.start()
    collector.join(30)
    assert collected == [NOTHING]


def test_part_crcs_reach_the_outcome_in_part_order():
    """Parts report in any order; the outcome has them by part index, with
    the checksum the submitter expected."""
    monitor = TransferMonitor()
    monitor.expect_checksum(1, ('crc64nvme', 'AAAAAAAAAAA='))
    monitor.notify_job_done(1, 3, 10, part_crc=(2, 30, 10))
    monitor.notify_jobs_done([(1, 3, 20, None, False, None, (0, 10, 20)),
                              (1, 3, 20, None, False, None, (1, 20, 20))])
    [outcome] = monitor.collect(0).outcomes
    assert outcome == TransferOutcome(
        1, None, False, 50, ('crc64nvme', 'AAAAAAAAAAA='),
        ((10, 20), (20, 20), (30, 10)))
    assert monitor.state_size() == 0


def test_no_part_crcs_unless_every_part_reported_one():
    """A part that failed reports no CRC: the outcome has none (and its
    error), so nothing is combined from a part missing."""
    monitor = TransferMonitor()
    monitor.notify_job_done(1, 2, 10, part_crc=(0, 10, 10))
    monitor.notify_job_done(1, 2, 0, ErrorSummary('X', 'x'))
    [outcome] = monitor.collect(0).outcomes
    assert outcome.part_crcs is None and outcome.error is not None
