"""Progress while a part is still being read, for the library and the CLI."""
import os
import pty
import re
import subprocess
import threading

from awscli_ppdl.processpool import ProcessPoolDownloader, ProcessTransferConfig
from tests.faults.proxy import Rule
from tests.s3server import (
    AWS_SCRIPT, TEST_ACCESS_KEY, TEST_REGION, TEST_SECRET_KEY)

MiB = 1024 * 1024


class ProgressRecorder:
    """Only ``on_progress``: a subscriber needs only the hooks it uses."""

    def __init__(self):
        self.reports = []   # (bytes, done at the time)
        self.lock = threading.Lock()

    def on_progress(self, future, bytes_transferred, **kwargs):
        with self.lock:
            self.reports.append((bytes_transferred, future.done()))


def test_a_single_part_reports_progress_while_it_is_read(
        s3_client, bucket, fault_proxy, tmp_path):
    """One 2 MiB GET streamed at 512 KiB/s: several reports arrive before
    the transfer ends, and they add up to the object's size."""
    body = os.urandom(2 * MiB)
    s3_client.put_object(Bucket=bucket, Key='k', Body=body)
    fault_proxy.add_rule(Rule(method='GET', key='/k',
                              throttle_bytes_per_second=512 * 1024))
    recorder = ProgressRecorder()
    downloader = ProcessPoolDownloader(
        client_kwargs=dict(region_name=TEST_REGION,
                           endpoint_url=fault_proxy.endpoint_url,
                           aws_access_key_id=TEST_ACCESS_KEY,
                           aws_secret_access_key=TEST_SECRET_KEY),
        config=ProcessTransferConfig(max_request_processes=1))
    callback_counts = []
    with downloader:
        future = downloader.download_file(
            bucket, 'k', str(tmp_path / 'k'), expected_size=len(body),
            subscribers=[recorder], progress_callback=callback_counts.append)
        future.result(timeout=60)
    assert (tmp_path / 'k').read_bytes() == body
    assert sum(n for n, _ in recorder.reports) == len(body)
    before_done = [n for n, done in recorder.reports if not done]
    assert len(before_done) >= 2, recorder.reports
    assert callback_counts == [n for n, _ in recorder.reports]


def test_the_progress_line_on_a_terminal(aws_env, s3_server, s3_client,
                                         bucket, tmp_path):
    """With stdout on a terminal, the CLI's own progress line is printed,
    then replaced by the result line, as ``aws s3 cp`` does."""
    body = os.urandom(3 * MiB)
    s3_client.put_object(Bucket=bucket, Key='k', Body=body)
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [AWS_SCRIPT, 's3', 'ppcp', f's3://{bucket}/k', 'k',
             '--endpoint-url', s3_server.endpoint_url],
            cwd=tmp_path, env=aws_env, stdin=subprocess.DEVNULL, stdout=follower,
            stderr=subprocess.PIPE)
        os.close(follower)
        output = b''
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:   # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(timeout=60) == 0, process.stderr.read()
        process.stderr.close()
    finally:
        os.close(leader)
    text = output.decode()
    assert re.search(r'Completed [\d.]+ (MiB|KiB|Bytes)/3\.0 MiB '
                     r'\([^)]*\) with 1 file\(s\) remaining', text), text
    # The result line overwrites the progress line, padded to its length.
    assert re.search(rf'\rdownload: s3://{bucket}/k to \./k *\r\n$',
                     text), text
    assert (tmp_path / 'k').read_bytes() == body
