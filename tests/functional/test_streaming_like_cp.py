"""``aws s3 ppcp s3://b/k -`` fails as ``aws s3 cp s3://b/k -`` does (same
exit code, same stderr), and a stream that ends early, however it ends,
stops its ranges and leaves nothing behind."""
import os
import subprocess

import pytest
from botocore.exceptions import ClientError

from awscli_ppdl import fileio, streaming
from awscli_ppdl.processpool import ProcessPoolDownloader, ProcessTransferConfig
from tests.faults.proxy import Rule
from tests.s3server import (
    AWS_SCRIPT, TEST_ACCESS_KEY, TEST_REGION, TEST_SECRET_KEY)

MiB = 1024 * 1024
# 4 ranges of 5 MiB, the last one short.
BIG = 17 * MiB + 3


@pytest.fixture
def big(s3_client, bucket):
    body = os.urandom(BIG)
    s3_client.put_object(Bucket=bucket, Key='big.bin', Body=body)
    return body


def aws_s3(command, env, endpoint_url, *args, stdout=subprocess.PIPE):
    return subprocess.run(
        [AWS_SCRIPT, 's3', command, *args, '--endpoint-url', endpoint_url],
        env=env, stdin=subprocess.DEVNULL, stdout=stdout,
        stderr=subprocess.PIPE, timeout=120)


def stream_leftovers(temp):
    return [name for name in os.listdir(temp)
            if name.startswith(fileio.STREAM_DIR_PREFIX)]


@pytest.mark.parametrize('args', [
    ('s3://{bucket}/nope', '-'),
    ('s3://ppcp-no-such-bucket-4f1e/k', '-'),
    ('s3://{bucket}/', '-'),
    ('s3://{bucket}/', '-', '--recursive'),
], ids=['missing-key', 'missing-bucket', 'no-key', 'recursive'])
def test_refusals_and_failures_read_as_cp_s(args, stream_env, s3_server,
                                            bucket):
    args = [arg.format(bucket=bucket) for arg in args]
    cp = aws_s3('cp', stream_env, s3_server.endpoint_url, *args)
    ppcp = aws_s3('ppcp', stream_env, s3_server.endpoint_url, *args)
    assert cp.returncode in (1, 255), cp.stderr
    assert (ppcp.returncode, ppcp.stderr, ppcp.stdout) == (
        cp.returncode, cp.stderr, cp.stdout)
    assert stream_leftovers(stream_env.temp) == []


@pytest.mark.skipif(not os.path.exists('/dev/full'), reason='no /dev/full')
def test_a_full_disk_on_stdout_reads_as_cp_s(stream_env, s3_server, bucket,
                                             big):
    results = {}
    for command in ('cp', 'ppcp'):
        with open('/dev/full', 'wb') as full:
            result = aws_s3(command, stream_env, s3_server.endpoint_url,
                            f's3://{bucket}/big.bin', '-', stdout=full)
        results[command] = (result.returncode, result.stderr.decode())
    assert results['ppcp'] == results['cp'] == (
        1, f'download failed: s3://{bucket}/big.bin to - [Errno 28] No '
        'space left on device\n')
    assert stream_leftovers(stream_env.temp) == []


def test_a_reader_that_goes_away_ends_the_stream_as_for_cp(
        stream_env, s3_server, bucket, big):
    """``... - | head -c 10``: cp reports the broken pipe and exits 1."""
    results = {}
    for command in ('cp', 'ppcp'):
        process = subprocess.Popen(
            [AWS_SCRIPT, 's3', command, f's3://{bucket}/big.bin', '-',
             '--endpoint-url', s3_server.endpoint_url],
            env=stream_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        try:
            assert process.stdout.read(10) == big[:10]
            process.stdout.close()
            stderr = process.stderr.read().decode()
            results[command] = (process.wait(timeout=60), stderr)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert results['ppcp'] == results['cp'] == (
        1, f'download failed: s3://{bucket}/big.bin to - [Errno 32] Broken '
        'pipe\n')
    assert stream_leftovers(stream_env.temp) == []


@pytest.mark.slow
@pytest.mark.faults
def test_a_lasting_server_error_mid_stream_reads_as_cp_s(
        stream_env, bucket, big, fault_proxy):
    """The range at 5 MiB keeps failing with a 500: both retry it, then fail
    with the same line; what came before it is on stdout, in order."""
    fault_proxy.add_rule(Rule(
        method='GET', key='big.bin', range_start=5 * MiB,
        status=(500, 'InternalError', 'We encountered an internal error.')))
    results = {}
    for command in ('cp', 'ppcp'):
        result = aws_s3(command, stream_env, fault_proxy.endpoint_url,
                        f's3://{bucket}/big.bin', '-')
        assert result.stdout == big[:len(result.stdout)]
        results[command] = (result.returncode, result.stderr.decode())
    assert results['ppcp'] == results['cp'] == (
        1, f'download failed: s3://{bucket}/big.bin to - An error occurred '
        '(InternalError) when calling the GetObject operation (reached max '
        'retries: 4): We encountered an internal error.\n')
    assert stream_leftovers(stream_env.temp) == []


@pytest.mark.faults
def test_an_object_replaced_mid_stream_is_not_mixed_in(
        stream_env, s3_client, bucket, big, fault_proxy):
    etag = s3_client.head_object(Bucket=bucket, Key='big.bin')['ETag']

    def overwrite(record):
        s3_client.put_object(Bucket=bucket, Key='big.bin',
                             Body=os.urandom(BIG))
    fault_proxy.add_rule(Rule(method='GET', key='big.bin',
                              range_start=10 * MiB, times=1,
                              callback=overwrite))
    result = aws_s3('ppcp', stream_env, fault_proxy.endpoint_url,
                    f's3://{bucket}/big.bin', '-')
    assert result.returncode == 1
    assert result.stderr.decode() == (
        f'download failed: s3://{bucket}/big.bin to - s3://{bucket}/big.bin '
        f'changed during the download (its ETag is no longer {etag}); the '
        'output is incomplete.\n')
    # Only bytes of the version the stream started with, and not all.
    assert len(result.stdout) in (0, 5 * MiB, 10 * MiB)
    assert result.stdout == big[:len(result.stdout)]
    assert stream_leftovers(stream_env.temp) == []


# -- the library API ----------------------------------------------------------

class Writer:
    def __init__(self, fail_on_write=None):
        self.data = bytearray()
        self.writes = 0
        self.fail_on_write = fail_on_write

    def write(self, block):
        self.writes += 1
        if self.writes == self.fail_on_write:
            raise OSError(28, 'No space left on device')
        self.data += block
        return len(block)


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    temp = tmp_path / 'tmp'
    temp.mkdir()
    monkeypatch.setenv('TMPDIR', str(temp))
    monkeypatch.setattr(streaming.tempfile, 'tempdir', None)
    return temp


def downloader_for(endpoint_url, processes=2):
    """1 MiB ranges; a window of ``processes + 2``."""
    return ProcessPoolDownloader(
        client_kwargs=dict(region_name=TEST_REGION, endpoint_url=endpoint_url,
                           aws_access_key_id=TEST_ACCESS_KEY,
                           aws_secret_access_key=TEST_SECRET_KEY),
        config=ProcessTransferConfig(multipart_chunksize=MiB,
                                     max_request_processes=processes))


@pytest.mark.faults
def test_a_failed_range_fails_the_stream_after_what_came_before(
        s3_client, bucket, fault_proxy, private_tmp):
    body = os.urandom(12 * MiB + 1)
    s3_client.put_object(Bucket=bucket, Key='k', Body=body)
    fault_proxy.add_rule(Rule(method='GET', key='/k', range_start=3 * MiB,
                              status=(403, 'AccessDenied', 'Access Denied')))
    writer = Writer()
    with downloader_for(fault_proxy.endpoint_url) as downloader:
        future = downloader.download_to_fileobj(bucket, 'k', writer)
        with pytest.raises(ClientError, match='AccessDenied'):
            future.result(timeout=60)
        # Gone when the future fails, not only once the pool has stopped.
        assert stream_leftovers(private_tmp) == []
    assert bytes(writer.data) == body[:3 * MiB]
    # Nothing was asked beyond the window that followed the failed range.
    ranges = fault_proxy.find_requests(method='GET', key='/k',
                                       has_range=True)
    assert len(ranges) <= 3 + 4, [r.headers['Range'] for r in ranges]
    assert stream_leftovers(private_tmp) == []


@pytest.mark.faults
def test_a_writer_that_fails_stops_the_ranges(s3_client, bucket, fault_proxy,
                                              private_tmp):
    """The first write fails: no range beyond the first window is fetched,
    the future fails with the writer's error, and the temp dir is gone."""
    body = os.urandom(24 * MiB)
    s3_client.put_object(Bucket=bucket, Key='k', Body=body)
    writer = Writer(fail_on_write=1)
    with downloader_for(fault_proxy.endpoint_url) as downloader:
        future = downloader.download_to_fileobj(bucket, 'k', writer)
        with pytest.raises(OSError, match='No space left on device'):
            future.result(timeout=60)
        assert stream_leftovers(private_tmp) == []
    assert writer.data == b''
    ranges = fault_proxy.find_requests(method='GET', key='/k',
                                       has_range=True)
    assert len(ranges) <= 4, [r.headers['Range'] for r in ranges]
    assert stream_leftovers(private_tmp) == []
