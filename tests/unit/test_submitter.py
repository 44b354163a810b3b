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


def submit_all(tmp_path, sizes):
    """Plans each request as the submitter's loop does, taking them from
    the request queue one by one; returns the jobs queued."""
    requests, jobs = queue.Queue(), queue.Queue()
    config = ProcessTransferConfig(multipart_threshold=8 * MiB,
                                   multipart_chunksize=8 * MiB)
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
