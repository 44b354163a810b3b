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
