"""Bounded state in a long-lived downloader, and errors that cannot cross a
process boundary as they are."""
import hashlib
import http.server
import os
import threading

import pytest

from awscli_ppdl import checkedget
from awscli_ppdl.records import RemoteError
from tests.helpers import (
    Undescribable, Unpicklable, assert_no_temp_files, files_under,
    library_downloader)

BODY = b'tiny object\n'
TRANSFERS = 5_000


class _FixedObjectHandler(http.server.BaseHTTPRequestHandler):
    """Every GET is answered with the same small object, as S3 would."""

    protocol_version = 'HTTP/1.1'
    # Headers and body go out in two writes: without this, Nagle's algorithm
    # and the client's delayed ACK stall every response by ~40 ms.
    disable_nagle_algorithm = True

    def do_GET(self):
        self.send_response(200)
        self.send_header('Content-Length', str(len(BODY)))
        # A single PUT's ETag: its body's MD5, which the workers check.
        self.send_header('ETag', f'"{hashlib.md5(BODY).hexdigest()}"')
        self.send_header('Last-Modified', 'Wed, 25 Nov 2026 07:00:00 GMT')
        self.send_header('Content-Type', 'binary/octet-stream')
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


@pytest.fixture
def fixed_object_endpoint():
    """A minimal S3 stand-in on 127.0.0.1: moto's server answers ~100 GETs a
    second on this machine, too slow for 5,000 transfers in a test."""
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                             _FixedObjectHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_monitor_state_stays_bounded_over_5000_transfers(
        fixed_object_endpoint, tmp_path):
    sizes = []
    downloader = library_downloader(fixed_object_endpoint, part_size=None)
    with downloader:
        futures = []
        for i in range(TRANSFERS):
            futures.append(downloader.download_file(
                'bucket', f'key-{i}', str(tmp_path / f'file-{i % 100}'),
                expected_size=len(BODY)))
            if i % 1000 == 999:
                sizes.append(running_monitor(downloader).state_size())
                # The parent's own records of a finished transfer go too.
                done = [f for f in futures if f.done()]
                for future in done:
                    future.result()
                futures = [f for f in futures if not f.done()]
        for future in futures:
            future.result(timeout=120)
        final_size = running_monitor(downloader).state_size()
        pending = len(downloader._tracker)
    assert len(sizes) == TRANSFERS // 1000
    # At most what is in flight: the request queue holds 1,000.
    assert max(sizes) < 1500, sizes
    assert final_size == 0
    assert pending == 0
    assert files_under(tmp_path) == {f'file-{i}' for i in range(100)}
    assert (tmp_path / 'file-7').read_bytes() == BODY


@pytest.mark.timeout(60)
@pytest.mark.parametrize('exception, expected_type, expected_message', [
    (Unpicklable('the disk controller said no'), 'Unpicklable',
     'the disk controller said no'),
    (Undescribable(), 'Undescribable', '(the error could not be described)'),
])
def test_an_exception_that_cannot_cross_arrives_as_a_summary(
        exception, expected_type, expected_message, monkeypatch,
        fixed_object_endpoint, tmp_path):
    """Raised in a (forked) worker for one key only: that download fails
    with the exception's type and message, the next one works."""
    original = checkedget.CheckedGet._download

    def fail_for_bad_key(self, job, progress):
        if job.key == 'bad':
            raise exception
        return original(self, job, progress)
    monkeypatch.setattr(checkedget.CheckedGet, '_download', fail_for_bad_key)

    with library_downloader(fixed_object_endpoint, processes=1,
                            part_size=None) as downloader:
        bad = downloader.download_file('bucket', 'bad', str(tmp_path / 'bad'),
                                       expected_size=len(BODY))
        with pytest.raises(RemoteError) as error:
            bad.result(timeout=30)
        good = downloader.download_file('bucket', 'good',
                                        str(tmp_path / 'good'),
                                        expected_size=len(BODY))
        good.result(timeout=30)
    assert error.value.type_name == expected_type
    assert str(error.value) == expected_message
    assert (tmp_path / 'good').read_bytes() == BODY
    assert files_under(tmp_path) == {'good'}
    assert_no_temp_files(tmp_path)


def test_the_submitter_queues_no_more_than_max_queue_size_jobs(
        s3_client, bucket, fault_proxy, tmp_path):
    """64 parts of 1 KiB, one worker whose first GET is held: the submitter
    queues ``max_queue_size`` jobs and waits for the worker, instead of
    queuing a job for every part (of every file) at once."""
    body = os.urandom(64 * 1024)
    s3_client.put_object(Bucket=bucket, Key='k', Body=body)
    with library_downloader(fault_proxy.endpoint_url, processes=1,
                            part_size=1024, max_queue_size=8) as downloader:
        queued = fault_proxy.hold_until(
            lambda: running_children(downloader).job_queue.full(),
            lambda: running_children(downloader).job_queue.qsize(),
            timeout=20, method='GET', key='k', times=1)
        downloader.download_file(bucket, 'k', str(tmp_path / 'k'),
                                 expected_size=len(body)).result(timeout=60)
    assert queued == [8]
    assert (tmp_path / 'k').read_bytes() == body


def running_children(downloader):
    """The downloader's ``pool.ChildProcesses`` while it runs."""
    return downloader._lifecycle.running.children


def running_monitor(downloader):
    return running_children(downloader).monitor
