"""``aws s3 ppcp s3://b/k -``: the object on stdout, in order, ranges fetched
in parallel, nothing left behind."""
import base64
import hashlib
import io
import os
import subprocess

import pytest

from awscli_ppdl import streaming
from awscli_ppdl.processpool import ProcessPoolDownloader, ProcessTransferConfig
from tests.faults.proxy import Rule
from tests.s3server import (
    AWS_SCRIPT, TEST_ACCESS_KEY, TEST_REGION, TEST_SECRET_KEY)

MiB = 1024 * 1024


def stream(env, endpoint_url, *args):
    return subprocess.run(
        [AWS_SCRIPT, 's3', 'ppcp', *args, '--endpoint-url', endpoint_url],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)


@pytest.mark.parametrize('size', [0, 1000, 17 * MiB + 3],
                         ids=['empty', 'small', 'ranges'])
def test_object_to_stdout(size, stream_env, s3_server, s3_client, bucket):
    body = os.urandom(size)
    s3_client.put_object(Bucket=bucket, Key='k', Body=body)
    result = stream(stream_env, s3_server.endpoint_url, f's3://{bucket}/k',
                    '-')
    assert result.returncode == 0, result.stderr
    assert result.stderr == b''
    assert hashlib.sha256(result.stdout).hexdigest() == \
        hashlib.sha256(body).hexdigest()
    assert os.listdir(stream_env.temp) == []


def test_into_a_pipe(stream_env, s3_server, s3_client, bucket):
    body = os.urandom(12 * MiB)
    s3_client.put_object(Bucket=bucket, Key='k', Body=body)
    command = (f'{AWS_SCRIPT} s3 ppcp s3://{bucket}/k - --endpoint-url '
               f'{s3_server.endpoint_url} | sha256sum')
    result = subprocess.run(command, shell=True, env=stream_env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize('size', [1000, 12 * MiB + 1], ids=['one', 'ranges'])
def test_checksum_mode_checks_the_stream(size, stream_env, s3_server,
                                         s3_client, bucket):
    """With --checksum-mode ENABLED the bytes written are checked against
    the object's checksum: a match exits 0, a stored checksum of other bytes
    fails the command after the stream (as for aws s3 cp's streams)."""
    body = os.urandom(size)
    s3_client.put_object(Bucket=bucket, Key='good', Body=body,
                         ChecksumAlgorithm='CRC32')
    wrong = base64.b64encode(hashlib.sha256(b'other').digest()).decode()
    s3_client.put_object(Bucket=bucket, Key='bad', Body=body,
                         ChecksumAlgorithm='SHA256', ChecksumSHA256=wrong)
    good = stream(stream_env, s3_server.endpoint_url, f's3://{bucket}/good',
                  '-', '--checksum-mode', 'ENABLED')
    assert good.returncode == 0, good.stderr
    assert good.stdout == body
    bad = stream(stream_env, s3_server.endpoint_url, f's3://{bucket}/bad',
                 '-', '--checksum-mode', 'ENABLED')
    assert bad.returncode == 1
    assert bad.stderr.decode().startswith(
        f'download failed: s3://{bucket}/bad to - Expected checksum {wrong} '
        'did not match calculated checksum: ')
    assert os.listdir(stream_env.temp) == []


def test_missing_key(stream_env, s3_server, bucket):
    result = stream(stream_env, s3_server.endpoint_url,
                    f's3://{bucket}/nope', '-')
    assert result.returncode == 1
    assert result.stdout == b''
    assert result.stderr.decode().strip() == (
        f'download failed: s3://{bucket}/nope to - An error occurred (404) '
        'when calling the HeadObject operation: Not Found')


def test_recursive_stream_is_refused_as_cp_refuses_it(
        stream_env, s3_server, bucket):
    result = stream(stream_env, s3_server.endpoint_url, f's3://{bucket}/',
                    '-', '--recursive')
    assert result.returncode == 255
    assert result.stderr.decode().strip() == (
        'Streaming currently is only compatible with non-recursive cp '
        'commands')


def test_a_failure_mid_stream(stream_env, s3_client, bucket, fault_proxy):
    """The second range keeps failing: the first range's bytes may have been
    written already, the command exits 1 with the cause on stderr, and the
    temp directory is gone."""
    s3_client.put_object(Bucket=bucket, Key='big.bin',
                         Body=os.urandom(12 * MiB))
    fault_proxy.add_rule(Rule(method='GET', key='big.bin',
                              range_start=5 * MiB,
                              status=(403, 'AccessDenied', 'Access Denied')))
    result = stream(stream_env, fault_proxy.endpoint_url,
                    f's3://{bucket}/big.bin', '-')
    assert result.returncode == 1
    assert result.stderr.decode().strip() == (
        f'download failed: s3://{bucket}/big.bin to - An error occurred '
        '(AccessDenied) when calling the GetObject operation: Access Denied')
    assert len(result.stdout) in (0, 5 * MiB)
    assert os.listdir(stream_env.temp) == []


class RecordingWriter(io.RawIOBase):
    """Counts the range files held in the stream's temp dir at each write."""

    def __init__(self, temp_root):
        self.temp_root = temp_root
        self.held = []
        self.data = bytearray()

    def writable(self):
        return True

    def write(self, block):
        [stream_dir] = [name for name in os.listdir(self.temp_root)
                        if name.startswith('ppcp-stream-')]
        self.held.append(len(os.listdir(os.path.join(self.temp_root,
                                                     stream_dir))))
        self.data += block
        return len(block)


def test_at_most_a_window_of_ranges_is_held(s3_server, s3_client, bucket,
                                            tmp_path, monkeypatch):
    body = os.urandom(24 * MiB + 5)
    s3_client.put_object(Bucket=bucket, Key='k', Body=body)
    monkeypatch.setenv('TMPDIR', str(tmp_path))
    monkeypatch.setattr(streaming.tempfile, 'tempdir', None)
    writer = RecordingWriter(str(tmp_path))
    downloader = ProcessPoolDownloader(
        client_kwargs=dict(region_name=TEST_REGION,
                           endpoint_url=s3_server.endpoint_url,
                           aws_access_key_id=TEST_ACCESS_KEY,
                           aws_secret_access_key=TEST_SECRET_KEY),
        config=ProcessTransferConfig(multipart_chunksize=MiB,
                                     max_request_processes=2))
    with downloader:
        future = downloader.download_to_fileobj(bucket, 'k', writer)
        future.result(timeout=60)
    assert bytes(writer.data) == body
    # Window: 2 processes + 2; the range being written was already unlinked.
    assert max(writer.held) <= 4, writer.held
    assert [name for name in os.listdir(tmp_path)
            if name.startswith('ppcp-stream-')] == []
