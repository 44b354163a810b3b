"""The submitter's planning, with plain queues and no process around it."""
import queue
import threading

from awscli_ppdl.monitor import TransferMonitor
from awscli_ppdl.processpool import ProcessTransferConfig
from awscli_ppdl.records import DownloadRequest
from awscli_ppdl.submitter import Submitter

MiB = 1024 * 1024


def request(tmp_path, transfer_id, size):
    return DownloadRequest(
        transfer_id=transfer_id, bucket='bucket', key=f'key-{transfer_id}',
        temp_filename=str(tmp_path / f'file-{transfer_id}.ppcp-tmp'),
        extra_args={}, expected_size=size, etag='"etag"')


def submit_all(tmp_path, sizes, threshold=8 * MiB, chunksize=8 * MiB,
               **config_kwargs):
    """Plans each request as the submitter's loop does, taking them from
    the request queue one by one; returns the jobs queued."""
    requests, jobs = queue.Queue(), queue.Queue()
    config = ProcessTransferConfig(multipart_threshold=threshold,
                                   multipart_chunksize=chunksize,
                                   **config_kwargs)
    submitter = Submitter(None, config, requests, jobs, TransferMonitor(),
                          threading.Event())
    for transfer_id, size in enumerate(sizes):
        requests.put(request(tmp_path, transfer_id, size))
    while not requests.empty():
        submitter._submit(requests.get())
    return [jobs.get() for _ in range(jobs.qsize())]


def test_only_a_job_queued_with_no_request_waiting_has_nothing_more_to_come(
        tmp_path):
    """Two small files, then one in three parts: the parts before the last
    have more to come, and so does the first file (the others wait); the
    last part of the last file is the end of what the submitter has."""
    jobs = submit_all(tmp_path, [100, 200, 20 * MiB])
    assert [(job.transfer_id, job.part_index, job.more_to_come)
            for job in jobs] == [(0, 0, True), (1, 0, True), (2, 0, True),
                                 (2, 1, True), (2, 2, False)]


def test_a_single_small_file_has_nothing_more_to_come(tmp_path):
    [job] = submit_all(tmp_path, [1024])
    assert job.more_to_come is False


def test_a_file_the_parent_said_more_follows_has_more_to_come(tmp_path):
    """The parent downloads a listing (``ProcessPoolDownloader.start(
    several_workers=True)``): its next request may not be queued yet."""
    requests, jobs = queue.Queue(), queue.Queue()
    submitter = Submitter(None, ProcessTransferConfig(), requests, jobs,
                          TransferMonitor(), threading.Event())
    submitter._submit(request(tmp_path, 1, 1024)._replace(more_to_come=True))
    assert jobs.get_nowait().more_to_come is True


def test_a_one_byte_chunk_size_plans_no_more_than_max_parts(tmp_path):
    """``multipart_chunksize = 1``: not a job per byte (the submitter would
    grow without bound) but 10,000 ranges, S3's most parts, that cover the
    object."""
    jobs = submit_all(tmp_path, [20000], threshold=1, chunksize=1)
    assert [job.extra_args['Range'] for job in jobs] == [
        f'bytes={start}-{start + 1}' for start in range(0, 20000, 2)]


def test_only_whole_object_gets_ask_for_the_md5_check(tmp_path):
    jobs = submit_all(tmp_path, [100, 20 * MiB])
    assert [(job.transfer_id, job.check_md5) for job in jobs] == [
        (0, True), (1, False), (1, False), (1, False)]
    [job] = submit_all(tmp_path, [100], check_etag_md5=False)
    assert job.check_md5 is False


def test_kept_parts_are_reported_done_and_not_fetched(tmp_path):
    """A resumed download: the parts an earlier run wrote count as done
    (bytes and progress, and the CRC of the algorithm this run combines);
    only the others are queued, each to be recorded."""
    requests, jobs = queue.Queue(), queue.Queue()
    monitor = TransferMonitor()
    config = ProcessTransferConfig(multipart_threshold=MiB,
                                   multipart_chunksize=MiB)
    submitter = Submitter(None, config, requests, jobs, monitor,
                          threading.Event())
    record = str(tmp_path / 'file.ppcp-resume')
    kept = ((0, ('crc32', 11)), (2, None))
    submitter._submit(request(tmp_path, 0, 3 * MiB)._replace(
        record_filename=record, kept_parts=kept))
    [job] = [jobs.get() for _ in range(jobs.qsize())]
    assert (job.part_index, job.num_parts, job.record_filename) == (
        1, 3, record)
    assert job.more_to_come is False
    events = monitor.collect(0)
    assert events.outcomes == []
    assert events.progress == [(0, 2 * MiB)]
    monitor.notify_job_done(0, 3, MiB)
    [outcome] = monitor.collect(0).outcomes
    assert outcome.bytes_written == 3 * MiB
    assert outcome.error is None


def test_every_part_kept_completes_the_transfer_without_a_job(tmp_path):
    requests, jobs = queue.Queue(), queue.Queue()
    monitor = TransferMonitor()
    config = ProcessTransferConfig(multipart_threshold=MiB,
                                   multipart_chunksize=MiB)
    submitter = Submitter(None, config, requests, jobs, monitor,
                          threading.Event())
    submitter._submit(request(tmp_path, 0, 2 * MiB)._replace(
        record_filename='r', kept_parts=((0, None), (1, None))))
    assert jobs.empty()
    [outcome] = monitor.collect(0).outcomes
    assert outcome.bytes_written == 2 * MiB
