"""Worker.run_job in-process: a stubbed client, a real temp file, a plain
TransferMonitor and a threading.Event, as s3transfer tests processpool.py."""
import awscli  # noqa: F401  (before botocore: selects the vendored copy)

import io
import multiprocessing
import os
import queue
import threading
import time

import botocore.session
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from awscli_ppdl import fileio
from awscli_ppdl.bodywriter import BUFFER_SIZE
from awscli_ppdl.checkedget import MAX_ATTEMPTS
from awscli_ppdl.getobject import GetObjectSender
from awscli_ppdl.monitor import TransferMonitor
from awscli_ppdl.records import (
    SHUTDOWN,
    ErrorSummary,
    GetObjectJob,
    TransferOutcome,
)
from awscli_ppdl.worker import ReportBatches, Worker, _exit_if_it_fails

BUCKET = 'bucket'
KEY = 'dir/key.bin'
DATA = b'0123456789abcdefghij'  # 20 bytes
ETAG = '"0123456789abcdef0123456789abcdef"'


class Harness:
    def __init__(self, tmp_path):
        self.client = botocore.session.get_session().create_client(
            's3', region_name='us-east-1', aws_access_key_id='a',
            aws_secret_access_key='b')
        self.stubber = Stubber(self.client)
        self.stubber.activate()
        self.monitor = TransferMonitor()
        self.cancel_event = threading.Event()
        self.worker = Worker(self.sender(), self.monitor, self.cancel_event)
        self.target = str(tmp_path / 'key.bin')
        self.temp = fileio.temp_filename_for(self.target)
        self.get_calls = []
        self.client.meta.events.register(
            'before-parameter-build.s3.GetObject',
            lambda params, **kwargs: self.get_calls.append(dict(params)))

    def sender(self):
        return GetObjectSender(lambda: self.client)

    def create_temp(self, size=None):
        """The temp file as another part's worker left it."""
        os.close(fileio.open_temp_file(self.temp, size))

    def contents(self):
        with open(self.temp, 'rb') as f:
            return f.read()

    def add_get(self, data, expected_params=None, content_length=None,
                **fields):
        length = len(data) if content_length is None else content_length
        response = {
            'Body': StreamingBody(io.BytesIO(data), length),
            'ContentLength': length,
            'ETag': ETAG,
        }
        response.update(fields)
        self.stubber.add_response('get_object', response, expected_params)

    def add_range(self, data, start, total=len(DATA), content_range=None,
                  expected_params=None):
        if content_range is None:
            content_range = 'bytes %d-%d/%d' % (
                start, start + len(data) - 1, total)
        self.add_get(data, expected_params, ContentRange=content_range)

    def job(self, offset=0, length=None, part_index=0, num_parts=1,
            transfer_id=1, **extra_args):
        return GetObjectJob(
            transfer_id=transfer_id, bucket=BUCKET, key=KEY,
            temp_filename=self.temp, extra_args=extra_args, offset=offset,
            length=length, part_index=part_index, num_parts=num_parts)

    def ranged_job(self, start, end, part_index=0, num_parts=1, **extra):
        return self.job(offset=start, length=end - start + 1,
                        part_index=part_index, num_parts=num_parts,
                        Range='bytes=%d-%d' % (start, end), **extra)

    def outcomes(self):
        return self.monitor.collect(0).outcomes


@pytest.fixture
def h(tmp_path):
    harness = Harness(tmp_path)
    yield harness
    harness.stubber.deactivate()
    harness.client.close()


def only_outcome(h):
    outcomes = h.outcomes()
    assert len(outcomes) == 1, outcomes
    return outcomes[0]


# -- successful jobs ---------------------------------------------------------

def test_single_part_job_writes_the_bytes_and_reports_them(h):
    h.create_temp()
    h.add_get(DATA, expected_params={'Bucket': BUCKET, 'Key': KEY})
    h.worker.run_job(h.job())
    h.stubber.assert_no_pending_responses()
    assert h.contents() == DATA
    events = h.monitor.collect(0)
    assert events.outcomes == [TransferOutcome(1, None, False, len(DATA))]
    assert events.progress == [(1, len(DATA))]


def test_single_part_job_passes_extra_args(h):
    h.create_temp()
    h.add_get(DATA, expected_params={'Bucket': BUCKET, 'Key': KEY,
                                     'VersionId': 'v1',
                                     'RequestPayer': 'requester'})
    h.worker.run_job(h.job(VersionId='v1', RequestPayer='requester'))
    h.stubber.assert_no_pending_responses()
    assert h.contents() == DATA


def test_empty_object(h):
    h.create_temp()
    h.add_get(b'')
    h.worker.run_job(h.job())
    assert h.contents() == b''
    assert only_outcome(h) == TransferOutcome(1, None, False, 0)


def test_larger_than_one_buffer(h, monkeypatch):
    h.worker._get._writer._buffer = memoryview(bytearray(7))
    h.create_temp()
    h.add_get(DATA * 3)
    h.worker.run_job(h.job())
    assert h.contents() == DATA * 3
    assert only_outcome(h).bytes_written == 60


def test_progress_is_reported_while_the_body_is_read(h, monkeypatch):
    """Progress arrives per buffer (here 7 bytes, reported at once), not
    only when the part ends, and adds up to the bytes written."""
    monkeypatch.setattr('awscli_ppdl.worker.PROGRESS_INTERVAL', 0)
    h.worker._get._writer._buffer = memoryview(bytearray(7))
    reports = []
    notify_progress = h.monitor.notify_progress
    monkeypatch.setattr(h.monitor, 'notify_progress', lambda tid, n: (
        reports.append(n), notify_progress(tid, n)))
    h.create_temp()
    h.add_get(DATA * 3)
    h.worker.run_job(h.job())
    assert reports == [7] * 8 + [4]
    events = h.monitor.collect(0)
    assert events.progress == [(1, 60)]


def test_a_failed_attempt_takes_its_progress_back(h, monkeypatch):
    monkeypatch.setattr('awscli_ppdl.worker.PROGRESS_INTERVAL', 0)
    monkeypatch.setattr('awscli_ppdl.checkedget.RETRY_MAX_DELAY', 0)
    h.worker._get._writer._buffer = memoryview(bytearray(7))
    h.create_temp()
    h.add_get(DATA[:10], content_length=20)   # short body: retried
    h.add_get(DATA)
    h.worker.run_job(h.job())
    assert h.contents() == DATA
    assert h.monitor.collect(0).progress == [(1, 20)]


def test_a_write_error_is_not_retried(h, monkeypatch):
    def disk_full(fd, data, offset):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr('awscli_ppdl.fileio.pwrite_all', disk_full)
    h.create_temp()
    h.add_get(DATA)
    h.worker.run_job(h.job())
    outcome = only_outcome(h)
    assert outcome.error.errno == 28
    assert outcome.error.message == 'No space left on device'
    assert len(h.get_calls) == 1


def writes_counted(monkeypatch):
    calls = []
    pwrite_all = fileio.pwrite_all
    monkeypatch.setattr('awscli_ppdl.fileio.pwrite_all', lambda *args: (
        calls.append(args[2]), pwrite_all(*args)))
    return calls


def test_a_long_part_of_a_reserved_file_is_written_with_pwrite(
        h, monkeypatch):
    """Parts of any size take the buffer and pwrite, one buffer at a time,
    at the part's offset (no mapping of the file: it cost more CPU)."""
    pwrites = writes_counted(monkeypatch)
    start, body = 1234, os.urandom(BUFFER_SIZE * 4 + 100)
    total = start + len(body) + 1266
    h.create_temp(total)
    h.add_range(body, start, total=total)
    h.worker.run_job(h.ranged_job(start, start + len(body) - 1,
                                  part_index=1, num_parts=2))
    assert h.contents() == b'\0' * start + body + b'\0' * 1266
    assert h.monitor.collect(0).progress == [(1, len(body))]
    assert pwrites == [start + i * BUFFER_SIZE for i in range(5)]


class _CutShortResponse(io.RawIOBase):
    """A raw stream as botocore's fast read sees http.client's response
    (``_fp``): a body cut short returns what arrived, then 0, no error."""

    def __init__(self, data):
        super().__init__()
        self._fp = io.BytesIO(data)

    def readinto(self, b):
        return self._fp.readinto(b)


def test_a_body_cut_short_on_the_fast_read_is_fetched_again(h, monkeypatch):
    """Read straight from http.client's ``_fp``, a cut body just ends:
    only its length tells, and the worker fetches it again."""
    monkeypatch.setattr('awscli_ppdl.checkedget.RETRY_MAX_DELAY', 0)
    body = os.urandom(2 * 4096 + 4000)
    h.create_temp()
    h.stubber.add_response('get_object', {
        'Body': StreamingBody(_CutShortResponse(body[:-3000]), len(body)),
        'ContentLength': len(body), 'ETag': ETAG})
    h.add_get(body)
    h.worker.run_job(h.job())
    assert only_outcome(h) == TransferOutcome(1, None, False, len(body))
    assert h.contents() == body
    assert len(h.get_calls) == 2


def test_ranged_job_writes_at_its_offset(h):
    h.create_temp(len(DATA))
    h.add_range(DATA[8:16], 8, expected_params={
        'Bucket': BUCKET, 'Key': KEY, 'Range': 'bytes=8-15',
        'IfMatch': ETAG})
    h.worker.run_job(h.ranged_job(8, 15, part_index=1, num_parts=3,
                                  IfMatch=ETAG))
    h.stubber.assert_no_pending_responses()
    assert h.contents() == b'\0' * 8 + DATA[8:16] + b'\0' * 4
    events = h.monitor.collect(0)
    assert events.outcomes == []  # 1 of 3 parts
    assert events.progress == [(1, 8)]


def test_three_ranged_jobs_assemble_the_object(h):
    h.create_temp(len(DATA))
    jobs = [h.ranged_job(0, 7, 0, 3), h.ranged_job(8, 15, 1, 3),
            h.ranged_job(16, 19, 2, 3)]
    for job in reversed(jobs):
        start = job.offset
        h.add_range(DATA[start:start + job.length], start)
    for job in reversed(jobs):
        h.worker.run_job(job)
    h.stubber.assert_no_pending_responses()
    assert h.contents() == DATA
    assert only_outcome(h) == TransferOutcome(1, None, False, 20)


def test_run_processes_jobs_until_shutdown(h):
    h.create_temp()
    h.add_get(DATA)
    jobs = queue.Queue()
    jobs.put(h.job())
    jobs.put(SHUTDOWN)
    h.worker.run(jobs)
    assert jobs.empty()
    assert h.contents() == DATA
    assert only_outcome(h) == TransferOutcome(1, None, False, 20)


def test_reports_of_back_to_back_jobs_travel_together(h, monkeypatch):
    """Three jobs waiting in the queue, done long before REPORT_DELAY
    (made long here): one round trip reports all three."""
    monkeypatch.setattr('awscli_ppdl.worker.REPORT_DELAY', 600)
    worker = Worker(h.sender(), h.monitor, h.cancel_event,
                    ReportBatches(h.monitor, threading.Semaphore(0)))
    batches = []
    notify_jobs_done = h.monitor.notify_jobs_done
    monkeypatch.setattr(h.monitor, 'notify_jobs_done', lambda reports: (
        batches.append(len(reports)), notify_jobs_done(reports)))
    monkeypatch.setattr(h.monitor, 'notify_job_done', None)  # never used
    h.create_temp()
    jobs = queue.Queue()
    for transfer_id in (1, 2, 3):
        h.add_get(DATA)
        jobs.put(h.job(transfer_id=transfer_id))
    jobs.put(SHUTDOWN)
    worker.run(jobs)
    assert batches == [3]
    assert sorted(o.transfer_id for o in h.outcomes()) == [1, 2, 3]


def test_a_full_batch_goes_at_once(h, monkeypatch):
    monkeypatch.setattr('awscli_ppdl.worker.REPORT_DELAY', 600)
    monkeypatch.setattr('awscli_ppdl.worker.REPORT_BATCH', 2)
    batches = []
    notify_jobs_done = h.monitor.notify_jobs_done
    monkeypatch.setattr(h.monitor, 'notify_jobs_done', lambda reports: (
        batches.append(len(reports)), notify_jobs_done(reports)))
    reports = ReportBatches(h.monitor, threading.Semaphore(0))
    for transfer_id in (1, 2, 3):
        reports.add((transfer_id, 1, 0, None, False, 0, None, None))
    assert batches == [2]
    assert [o.transfer_id for o in h.outcomes()] == [1, 2]


class RunningWorker:
    """A batching worker running its loop in a thread, over a plain queue
    that already holds ``jobs``; ``reports_due`` is its pool's latch."""

    def __init__(self, h, *jobs, large_slots=None):
        self.jobs = queue.Queue()
        for job in jobs:
            self.jobs.put(job)
        self.reports_due = threading.Semaphore(0)
        worker = Worker(h.sender(), h.monitor, h.cancel_event,
                        ReportBatches(h.monitor, self.reports_due),
                        large_slots=large_slots)
        self.thread = threading.Thread(target=worker.run, args=(self.jobs,),
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.jobs.put(SHUTDOWN)
        self.thread.join(30)
        assert not self.thread.is_alive()


def next_reported_transfers(h):
    """The transfers of the next reports, as soon as they arrive (30 s);
    a collect that brings only progress (a slow GET's bytes, sent on their
    own) is not a report."""
    deadline = time.monotonic() + 30
    while True:
        events = h.monitor.collect(max(0, deadline - time.monotonic()))
        if events.outcomes or time.monotonic() >= deadline:
            return [outcome.transfer_id for outcome in events.outcomes]


def test_a_held_report_goes_after_report_delay_while_no_job_comes(h):
    """One job, then an empty queue, and the parent does not wait: the
    report goes out once REPORT_DELAY old, not with a next job that may
    never come."""
    h.create_temp()
    h.add_get(DATA)
    running = RunningWorker(h, h.job())
    assert next_reported_transfers(h) == [1]
    running.stop()


def test_held_reports_go_at_once_when_the_parent_waits(h, monkeypatch):
    """A batch held (REPORT_DELAY an hour here), then the pool's latch that
    the parent waits: the report goes, and the next is not held at all.
    (The 30 s guard of ``next_reported_transfers`` is all that would end
    the test if either waited.)"""
    monkeypatch.setattr('awscli_ppdl.worker.REPORT_DELAY', 3600)
    h.create_temp()
    h.add_get(DATA)
    h.add_get(DATA)
    running = RunningWorker(h, h.job(transfer_id=1))
    while not h.get_calls:   # the GET made, its report held or on its way
        time.sleep(0.01)
    running.reports_due.release()
    assert next_reported_transfers(h) == [1]
    running.jobs.put(h.job(transfer_id=2))
    assert next_reported_transfers(h) == [2]
    running.stop()


def test_a_job_with_nothing_more_to_come_is_reported_at_once(h, monkeypatch):
    """The only job of a one-file download: its report is not held for a
    batch (the delay is made long here)."""
    monkeypatch.setattr('awscli_ppdl.worker.REPORT_DELAY', 600)
    h.create_temp()
    h.add_get(DATA)
    running = RunningWorker(h, h.job()._replace(more_to_come=False))
    assert next_reported_transfers(h) == [1]
    running.stop()


def test_a_part_is_reported_at_once_even_with_more_to_come(h, monkeypatch):
    """The part that completes a file is whichever finishes last, not the
    one queued with nothing more to come: a part's report is not held
    (the delay is made an hour here, so a report that waited would only
    be caught by the 30 s guard)."""
    monkeypatch.setattr('awscli_ppdl.worker.REPORT_DELAY', 3600)
    h.create_temp(len(DATA))
    h.monitor.notify_job_done(1, 2, 8)   # The other part, done elsewhere.
    h.monitor.collect(0)                 # (and its progress taken)
    h.add_range(DATA[8:], 8)
    job = h.ranged_job(8, 19, part_index=0, num_parts=2)
    assert job.more_to_come
    running = RunningWorker(h, job)
    assert next_reported_transfers(h) == [1]
    running.stop()


def test_a_report_does_not_wait_with_its_thread_for_a_large_slot(
        h, monkeypatch):
    """The threads of a worker outnumber its large-GET slots, and the
    threads idle on the job queue hold them: the thread that finished the
    only job of a one-file download waits for a slot until the next job or
    SHUTDOWN, and the report goes out before it waits (the delay is made
    an hour here, so the test would only end at its 30 s guard if the
    report waited)."""
    monkeypatch.setattr('awscli_ppdl.worker.REPORT_DELAY', 3600)
    slots = threading.Semaphore(1)
    # During the GET (the worker gave its slot back on taking the small
    # job) an idle thread takes the only slot, as it does in a process.
    h.client.meta.events.register(
        'before-parameter-build.s3.GetObject',
        lambda **kwargs: slots.acquire(blocking=False))
    h.create_temp()
    h.add_get(DATA)
    # A small job (its length known): its thread gives the slot back.
    running = RunningWorker(
        h, h.job(length=len(DATA))._replace(more_to_come=False),
        large_slots=slots)
    assert next_reported_transfers(h) == [1]
    slots.release()
    running.stop()


def test_a_report_is_not_held_while_the_next_job_stalls(h, monkeypatch):
    """A file is complete: its report goes out after REPORT_DELAY even
    though the worker is stuck in its next job meanwhile (there, a ranged
    job's question to the monitor that does not return)."""
    monkeypatch.setattr('awscli_ppdl.worker.REPORT_DELAY', 0.01)
    stalled, release = threading.Event(), threading.Event()
    should_run = h.monitor.should_run

    def stalling_should_run(transfer_id):
        stalled.set()
        release.wait(30)
        return should_run(transfer_id)

    monkeypatch.setattr(h.monitor, 'should_run', stalling_should_run)
    h.create_temp(len(DATA))
    h.add_get(DATA)
    h.add_range(DATA[0:8], 0)
    running = RunningWorker(h, h.job(transfer_id=1),
                            h.ranged_job(0, 7, 0, 3, transfer_id=2))
    assert stalled.wait(30)
    assert next_reported_transfers(h) == [1]
    assert running.thread.is_alive()   # still in the stalled job
    release.set()
    running.stop()


# -- responses that are not what was asked for --------------------------------

def test_wrong_content_range_is_retried(h):
    h.create_temp(len(DATA))
    h.add_range(DATA[0:8], 0)  # asked for 8-15, got 0-7
    h.add_range(DATA[8:16], 8)
    h.worker.run_job(h.ranged_job(8, 15, 1, 2))
    h.stubber.assert_no_pending_responses()
    assert len(h.get_calls) == 2
    assert all(c['Range'] == 'bytes=8-15' for c in h.get_calls)
    assert h.contents() == b'\0' * 8 + DATA[8:16] + b'\0' * 4
    assert h.outcomes() == []
    assert h.monitor.should_run(1) is True


def test_whole_object_200_for_a_ranged_request_is_retried(h):
    h.create_temp(len(DATA))
    h.add_get(DATA)  # the server ignored Range: 200, no Content-Range
    h.add_range(DATA[0:8], 0)
    h.worker.run_job(h.ranged_job(0, 7, 0, 1))
    h.stubber.assert_no_pending_responses()
    assert len(h.get_calls) == 2
    assert h.contents() == DATA[0:8] + b'\0' * 12
    assert only_outcome(h) == TransferOutcome(1, None, False, 8)


def test_right_content_range_with_wrong_length_is_retried(h):
    h.create_temp(len(DATA))
    h.add_get(DATA[0:8], content_length=9, ContentRange='bytes 0-7/20')
    h.add_range(DATA[0:8], 0)
    h.worker.run_job(h.ranged_job(0, 7))
    h.stubber.assert_no_pending_responses()
    assert h.contents() == DATA[0:8] + b'\0' * 12
    assert only_outcome(h).bytes_written == 8


def test_short_body_is_retried(h):
    h.create_temp()
    h.add_get(DATA[:5], content_length=len(DATA))  # connection cut short
    h.add_get(DATA)
    h.worker.run_job(h.job())
    h.stubber.assert_no_pending_responses()
    assert h.contents() == DATA
    assert only_outcome(h) == TransferOutcome(1, None, False, 20)


def test_wrong_range_every_time_fails_after_max_attempts(h):
    h.create_temp(len(DATA))
    for _ in range(MAX_ATTEMPTS):
        h.add_range(DATA[0:8], 0)
    h.worker.run_job(h.ranged_job(8, 15, 1, 2))
    h.stubber.assert_no_pending_responses()
    assert len(h.get_calls) == MAX_ATTEMPTS == 5
    assert h.contents() == b'\0' * 20  # nothing written
    assert h.monitor.should_run(1) is False
    h.worker.run_job(h.ranged_job(0, 7, 0, 2))  # skipped: no GET left
    outcome = only_outcome(h)
    assert outcome.bytes_written == 0
    assert outcome.error.type_name == 'RetryableBodyError'
    assert outcome.error.message == (
        "Asked for bytes 8-15 of s3://bucket/dir/key.bin, got Content-Range "
        "'bytes 0-7/20' with 8 bytes.")


class _ResetStream(io.RawIOBase):
    """A body whose connection is reset by the peer as it is read."""

    def readable(self):
        return True

    def readinto(self, buffer):
        raise ConnectionResetError(104, 'Connection reset by peer')


def test_a_body_that_keeps_breaking_off_fails_as_cp_says(h, monkeypatch):
    monkeypatch.setattr('awscli_ppdl.checkedget.RETRY_MAX_DELAY', 0)
    h.create_temp(len(DATA))
    for _ in range(MAX_ATTEMPTS):
        h.stubber.add_response('get_object', {
            'Body': StreamingBody(_ResetStream(), len(DATA)),
            'ContentLength': len(DATA), 'ETag': ETAG})
    h.worker.run_job(h.job())
    h.stubber.assert_no_pending_responses()
    assert len(h.get_calls) == MAX_ATTEMPTS
    assert h.contents() == b'\0' * len(DATA)
    outcome = only_outcome(h)
    assert outcome.bytes_written == 0
    assert outcome.error.type_name == 'RetriesExceededError'
    assert outcome.error.message == 'Max Retries Exceeded'


# -- errors ------------------------------------------------------------------

def test_precondition_failed_with_if_match_is_object_changed(h):
    h.create_temp(len(DATA))
    h.stubber.add_client_error(
        'get_object', service_error_code='PreconditionFailed',
        service_message='At least one of the pre-conditions you specified '
                        'did not hold', http_status_code=412)
    h.worker.run_job(h.ranged_job(0, 7, 0, 1, IfMatch=ETAG))
    h.stubber.assert_no_pending_responses()
    assert len(h.get_calls) == 1
    outcome = only_outcome(h)
    assert outcome.bytes_written == 0
    assert outcome.error.type_name == 'ObjectChangedError'
    assert outcome.error.error_code is None
    assert outcome.error.message == (
        's3://bucket/dir/key.bin changed during the download (its ETag is no '
        'longer %s); the file was not written.' % ETAG)
    assert 'changed during the download' in str(outcome.error.to_exception())


def test_precondition_failed_without_if_match_stays_a_client_error(h):
    h.create_temp()
    h.stubber.add_client_error(
        'get_object', service_error_code='PreconditionFailed',
        service_message='pre-condition failed', http_status_code=412)
    h.worker.run_job(h.job())
    outcome = only_outcome(h)
    assert outcome.error.error_code == 'PreconditionFailed'
    assert outcome.error.http_status == 412


def test_no_such_key_is_reported_and_not_retried(h):
    h.create_temp()
    h.stubber.add_client_error(
        'get_object', service_error_code='NoSuchKey',
        service_message='The specified key does not exist.',
        http_status_code=404)
    h.worker.run_job(h.job())
    h.stubber.assert_no_pending_responses()
    assert len(h.get_calls) == 1
    outcome = only_outcome(h)
    assert outcome.transfer_id == 1
    assert outcome.cancelled is False
    assert outcome.bytes_written == 0
    assert outcome.error.error_code == 'NoSuchKey'
    assert outcome.error.http_status == 404
    assert outcome.error.operation_name == 'GetObject'
    assert str(outcome.error.to_exception()) == (
        'An error occurred (NoSuchKey) when calling the GetObject operation: '
        'The specified key does not exist.')


def test_the_temp_file_is_created_when_the_response_arrives(h):
    """Not before its GET (a crash leaves at most one per GET in flight),
    reserved to the size the job says."""
    existed_at_get = []
    h.client.meta.events.register(
        'before-parameter-build.s3.GetObject',
        lambda **kwargs: existed_at_get.append(os.path.exists(h.temp)))
    h.add_range(DATA[:8], 0)
    h.worker.run_job(h.ranged_job(0, 7)._replace(reserve=len(DATA)))
    assert existed_at_get == [False]
    assert h.contents() == DATA[:8] + b'\0' * 12
    assert only_outcome(h).error is None


def test_no_temp_file_for_a_failed_get(h):
    h.stubber.add_client_error('get_object', 'NoSuchKey', http_status_code=404)
    h.worker.run_job(h.job())
    assert only_outcome(h).error.error_code == 'NoSuchKey'
    assert not os.path.exists(h.temp)


def test_unpicklable_error_is_still_reported(h, monkeypatch):
    class Weird(Exception):
        def __init__(self):
            super().__init__('weird failure')
            self.hook = lambda: None

    def explode(**kwargs):
        raise Weird()

    monkeypatch.setattr(h.client, 'get_object', explode)
    h.create_temp()
    h.worker.run_job(h.job())
    outcome = only_outcome(h)
    assert outcome.error == ErrorSummary('Weird', 'weird failure')


# -- skipped jobs ------------------------------------------------------------

def test_job_of_a_failed_transfer_is_skipped_but_counted(h):
    h.create_temp(len(DATA))
    h.add_get(DATA)  # must stay unused
    first_error = ErrorSummary('NoSuchKey', 'gone', error_code='NoSuchKey')
    h.monitor.notify_job_done(1, 3, 0, first_error)
    h.worker.run_job(h.ranged_job(8, 15, 1, 3))
    assert h.outcomes() == []
    h.worker.run_job(h.ranged_job(16, 19, 2, 3))
    assert h.get_calls == []
    with pytest.raises(AssertionError):
        h.stubber.assert_no_pending_responses()
    assert h.contents() == b'\0' * 20
    assert only_outcome(h) == TransferOutcome(1, first_error, False, 0)


def test_job_of_a_cancelled_transfer_is_skipped_but_counted(h):
    h.create_temp(len(DATA))
    h.add_get(DATA)  # must stay unused
    h.monitor.cancel([1])
    h.worker.run_job(h.ranged_job(0, 9, 0, 2))
    h.worker.run_job(h.ranged_job(10, 19, 1, 2))
    assert h.get_calls == []
    assert h.contents() == b'\0' * 20
    assert only_outcome(h) == TransferOutcome(1, None, True, 0)


def test_other_transfers_still_run_after_one_failed(h):
    h.create_temp()
    h.monitor.notify_job_done(2, 3, 0, ErrorSummary('X', 'x'))
    h.add_get(DATA)
    h.worker.run_job(h.job(transfer_id=1))
    assert h.contents() == DATA
    assert only_outcome(h) == TransferOutcome(1, None, False, 20)


def test_cancel_event_skips_the_job_without_a_get(h):
    h.create_temp(len(DATA))
    h.add_get(DATA)  # must stay unused
    h.cancel_event.set()
    h.worker.run_job(h.ranged_job(0, 9, 0, 2))
    h.worker.run_job(h.ranged_job(10, 19, 1, 2))
    assert h.get_calls == []
    assert h.contents() == b'\0' * 20
    (outcome,) = h.outcomes()
    assert outcome.transfer_id == 1
    assert outcome.bytes_written == 0


def test_job_skipped_by_cancel_event_is_not_reported_as_a_success(h):
    h.create_temp()  # single part: the submitter creates it empty
    h.cancel_event.set()
    h.worker.run_job(h.job())
    assert h.get_calls == []
    (outcome,) = h.outcomes()
    assert outcome.cancelled or outcome.error is not None, outcome


def test_a_cancelled_single_range_is_not_fetched(h):
    """A stream's range is a one-job transfer: cancelled before a worker
    takes it (the stream failed or its reader went away), it costs no GET."""
    h.create_temp(8)
    h.monitor.cancel([1])
    h.worker.run_job(h.ranged_job(0, 7, 0, 1))
    assert h.get_calls == []
    assert only_outcome(h).cancelled


def _fail(job_queue):
    raise RuntimeError('a bug in a worker thread')


def test_a_worker_thread_that_fails_ends_its_process():
    """The parent sees the worker die and says so, instead of waiting
    forever for the job that thread held."""
    process = multiprocessing.get_context('fork').Process(
        target=_exit_if_it_fails, args=(_fail, None))
    process.start()
    process.join(30)
    assert process.exitcode == 1


# -- the MD5 of a whole object, against its ETag --------------------------

MD5_ETAG = '"%s"' % __import__('hashlib').md5(DATA).hexdigest()


def test_a_whole_object_matching_its_md5_etag_passes(h):
    h.add_get(DATA, ETag=MD5_ETAG)
    h.worker.run_job(h.job(length=len(DATA))._replace(check_md5=True))
    assert h.contents() == DATA
    assert only_outcome(h) == TransferOutcome(1, None, False, len(DATA))


def test_a_whole_object_not_matching_its_md5_etag_fails_at_once(h):
    h.add_get(DATA[:-1] + b'!', ETag=MD5_ETAG)
    h.worker.run_job(h.job(length=len(DATA))._replace(check_md5=True))
    h.stubber.assert_no_pending_responses()  # one GET: not retried
    outcome = only_outcome(h)
    assert outcome.error.type_name == 'ChecksumMismatchError'
    assert outcome.error.message == (
        f's3://{BUCKET}/{KEY}: MD5 of the bytes received is '
        f'{__import__("hashlib").md5(DATA[:-1] + b"!").hexdigest()}, its '
        f'ETag says {MD5_ETAG[1:-1]}; the file was not written.')


@pytest.mark.parametrize('fields,extra,check', [
    ({}, {}, False),  # the submitter did not ask
    ({'ETag': '"%s-2"' % ('0' * 32)}, {}, True),
    ({'ServerSideEncryption': 'aws:kms'}, {}, True),
    ({'SSECustomerAlgorithm': 'AES256'}, {}, True),
    ({}, {'SSECustomerAlgorithm': 'AES256', 'SSECustomerKey': 'k' * 32},
     True),
])
def test_no_md5_check_where_the_etag_is_no_md5(h, fields, extra, check):
    """A wrong body (the ETag is not its MD5) passes: it is not checked."""
    h.add_get(DATA, **dict({'ETag': ETAG}, **fields))
    h.worker.run_job(h.job(length=len(DATA), **extra)._replace(
        check_md5=check))
    assert only_outcome(h).error is None
    assert h.contents() == DATA


def test_no_md5_of_a_body_botocore_checks_against_a_stored_checksum(h):
    """botocore checks the body against the object's stored CRC as it is
    read: the bytes are proved, and not hashed again (the ETag here is no
    MD5 of them, which an MD5 check would have failed)."""
    import base64

    from awscrt.checksums import crc32
    from botocore.httpchecksum import CrtCrc32Checksum, StreamingChecksumBody

    stored = base64.b64encode(crc32(DATA).to_bytes(4, 'big')).decode()
    body = StreamingChecksumBody(io.BytesIO(DATA), len(DATA),
                                 CrtCrc32Checksum(), stored)
    other_md5 = __import__('hashlib').md5(b'other bytes').hexdigest()
    h.add_get(DATA, ETag=f'"{other_md5}"', Body=body)
    h.worker.run_job(h.job(length=len(DATA))._replace(check_md5=True))
    assert only_outcome(h).error is None
    assert h.contents() == DATA


def test_a_body_that_fails_its_stored_checksum_fails_as_botocore_says(h):
    import base64

    from awscrt.checksums import crc32
    from botocore.httpchecksum import CrtCrc32Checksum, StreamingChecksumBody

    stored = base64.b64encode(crc32(DATA).to_bytes(4, 'big')).decode()
    wrong = DATA[:-1] + b'!'
    body = StreamingChecksumBody(io.BytesIO(wrong), len(wrong),
                                 CrtCrc32Checksum(), stored)
    h.add_get(wrong, ETag=MD5_ETAG, Body=body)
    h.worker.run_job(h.job(length=len(DATA))._replace(check_md5=True))
    outcome = only_outcome(h)
    assert outcome.error.type_name == 'FlexibleChecksumError'
    assert f'Expected checksum {stored} did not match' in (
        outcome.error.message)


def test_no_md5_check_of_a_range(h):
    h.create_temp(len(DATA))
    h.add_range(DATA[:10], 0)
    h.worker.run_job(h.ranged_job(0, 9)._replace(check_md5=True))
    assert only_outcome(h).error is None


# -- a part's CRC, computed as its bytes arrive ------------------------------

def test_a_part_reports_its_crc_with_the_job(h):
    from awscrt.checksums import crc32c

    h.create_temp(len(DATA))
    h.monitor.expect_checksum(1, ('crc32c', 'AAAAAA=='))
    h.add_range(DATA[5:15], 5)
    h.add_range(DATA[:5], 0)
    h.add_range(DATA[15:], 15)
    for start, end, index in ((5, 14, 1), (0, 4, 0), (15, 19, 2)):
        h.worker.run_job(h.ranged_job(start, end, part_index=index,
                                      num_parts=3)._replace(
                                          part_crc='crc32c'))
    outcome = only_outcome(h)
    assert outcome.part_crcs == (
        (crc32c(DATA[:5]), 5), (crc32c(DATA[5:15]), 10),
        (crc32c(DATA[15:]), 5))
    assert h.contents() == DATA
