"""Network faults and bad places, through the real CLI driver and the proxy.

Every fault ends in a clear message and the CLI's exit code, with no file at
the destination unless it is complete and correct, and no temp file left.
"""
import os
import resource
import subprocess

import pytest

from tests.faults.proxy import Rule
from tests.helpers import (
    LASTING_S3_ERRORS, file_sha256, files_under, output_lines, sha256)
from tests.s3server import AWS_SCRIPT, make_s3_client

MiB = 1024 * 1024
SIZE = 12 * MiB + 12345   # three 5 MiB parts, the last one short


@pytest.fixture
def multipart(cli_env, s3_client, bucket):
    """A 3-part object (5 MiB parts) and a profile that fetches it in parts."""
    cli_env.set_config('s3', {'multipart_threshold': '5MB',
                              'multipart_chunksize': '5MB'})
    body = os.urandom(SIZE)
    s3_client.put_object(Bucket=bucket, Key='big.bin', Body=body)
    return body


def gets_at(proxy, offset):
    return [r for r in proxy.find_requests(method='GET', key='big.bin')
            if r.range_start == offset]


@pytest.mark.parametrize('fault', [
    dict(reset_after_bytes=1000),
    dict(truncate_after_bytes=1000),
    dict(drop_range=True),
    dict(status=(500, 'InternalError', 'We encountered an internal error.')),
])
def test_one_bad_part_is_fetched_again(fault, ppcp, multipart, bucket,
                                       fault_proxy, workdir):
    fault_proxy.add_rule(Rule(method='GET', key='big.bin',
                              range_start=5 * MiB, times=1, **fault))
    result = ppcp(f's3://{bucket}/big.bin', 'big.bin',
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    assert file_sha256(workdir / 'big.bin') == sha256(multipart)
    assert len(gets_at(fault_proxy, 5 * MiB)) == 2
    assert files_under(workdir) == {'big.bin'}


def test_a_burst_of_slowdown_is_retried(ppcp, s3_client, bucket, fault_proxy,
                                        workdir):
    s3_client.put_object(Bucket=bucket, Key='k', Body=b'payload')
    fault_proxy.add_rule(Rule(method='GET', key='/k', times=3,
                              status=(503, 'SlowDown', 'Reduce your rate.')))
    result = ppcp(f's3://{bucket}/k', 'k',
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    assert (workdir / 'k').read_bytes() == b'payload'
    assert len(fault_proxy.find_requests(method='GET', key='/k')) == 4


@pytest.mark.parametrize('fault, expected_gets, message', [
    *LASTING_S3_ERRORS,
    # aws s3 cp's words (and its 5 GETs) for a body that keeps breaking off.
    (dict(reset_after_bytes=100), 5, 'Max Retries Exceeded'),
])
def test_a_lasting_fault_fails_with_its_cause(
        fault, expected_gets, message, ppcp, s3_client, bucket, fault_proxy,
        workdir):
    s3_client.put_object(Bucket=bucket, Key='k', Body=os.urandom(4096))
    s3_client.put_object(Bucket=bucket, Key='ok', Body=b'fine')
    fault_proxy.add_rule(Rule(method='GET', key='/k', **fault))
    result = ppcp(f's3://{bucket}/', 'out', '--recursive',
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 1
    failures = [line for line in output_lines(result.stderr)
                if line.startswith('download failed:')]
    assert len(failures) == 1
    assert failures[0].startswith(f'download failed: s3://{bucket}/k to out/k ')
    assert message in failures[0]
    assert len(fault_proxy.find_requests(method='GET', key='/k')) == \
        expected_gets
    assert files_under(workdir) == {'out/ok'}


def test_object_replaced_mid_download_fails_cleanly(
        ppcp, multipart, s3_client, bucket, fault_proxy, workdir):
    def overwrite(record):
        s3_client.put_object(Bucket=bucket, Key='big.bin',
                             Body=os.urandom(SIZE))
    fault_proxy.add_rule(Rule(method='GET', key='big.bin',
                              range_start=10 * MiB, times=1,
                              callback=overwrite))
    result = ppcp(f's3://{bucket}/big.bin', 'big.bin',
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 1
    [failure] = output_lines(result.stderr)
    assert failure.startswith(
        f'download failed: s3://{bucket}/big.bin to ./big.bin '
        f's3://{bucket}/big.bin changed during the download')
    assert files_under(workdir) == set()


def test_a_server_that_never_honours_range(ppcp, multipart, bucket,
                                           fault_proxy, workdir):
    fault_proxy.add_rule(Rule(method='GET', key='big.bin',
                              range_start=5 * MiB, drop_range=True))
    result = ppcp(f's3://{bucket}/big.bin', 'big.bin',
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 1
    # The two parts that arrived are kept for a rerun (resume is on).
    failure, kept = output_lines(result.stderr)
    assert f'Asked for bytes {5 * MiB}-{10 * MiB - 1}' in failure
    assert kept.startswith('Kept 7.0 MiB of 12.0 MiB of ./big.bin in '
                           './big.bin.ppcp-tmp')
    assert files_under(workdir) == {'big.bin.ppcp-tmp', 'big.bin.ppcp-resume'}


def test_destination_below_a_file(ppcp, s3_client, bucket, workdir):
    """``aws s3 cp`` prints nothing and exits 0 here; ppcp reports it."""
    s3_client.put_object(Bucket=bucket, Key='k', Body=b'data')
    (workdir / 'afile').write_bytes(b'keep me')
    result = ppcp(f's3://{bucket}/k', 'afile/sub/k')
    assert result.returncode == 1
    assert output_lines(result.stderr) == [
        f'download failed: s3://{bucket}/k to afile/sub/k Could not create '
        f'directory {workdir}/afile/sub: [Errno 20] Not a directory: '
        f"'{workdir}/afile/sub'"]
    assert files_under(workdir) == {'afile'}
    assert (workdir / 'afile').read_bytes() == b'keep me'


@pytest.fixture
def unwritable_dir(workdir):
    """A directory its user cannot create files in, even as root."""
    path = workdir / 'locked'
    path.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(['chattr', '+i', str(path)]).returncode != 0:
            pytest.skip('needs chattr +i to make a directory unwritable '
                        'for root')
        yield path
        subprocess.run(['chattr', '-i', str(path)], check=True)
    else:
        path.chmod(0o555)
        yield path
        path.chmod(0o755)


def test_destination_not_writable(ppcp, s3_client, bucket, unwritable_dir,
                                  workdir):
    for key in ('a', 'b'):
        s3_client.put_object(Bucket=bucket, Key=f'p/{key}', Body=b'x')
    result = ppcp(f's3://{bucket}/p/', 'locked', '--recursive')
    assert result.returncode == 1
    failures = sorted(output_lines(result.stderr))
    assert len(failures) == 2
    for key, line in zip('ab', failures):
        assert line.startswith(
            f'download failed: s3://{bucket}/p/{key} to locked/{key} [Errno ')
        assert ('Operation not permitted' in line
                or 'Permission denied' in line)
    assert os.listdir(unwritable_dir) == []


def test_disk_full_mid_batch(aws_env, s3_server, s3_client, bucket, tmp_path):
    """A file-size limit makes writes past 1 MiB fail (EFBIG): the large
    download fails and is cleaned up; the others of the batch complete."""
    aws_env.set_config('s3', {'multipart_threshold': '5MB',
                              'multipart_chunksize': '5MB'})
    small = {f'batch/small-{i}': os.urandom(10000) for i in range(5)}
    for key, body in small.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    s3_client.put_object(Bucket=bucket, Key='batch/large',
                         Body=os.urandom(6 * MiB))

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (MiB, MiB))

    result = subprocess.run(
        [AWS_SCRIPT, 's3', 'ppcp', f's3://{bucket}/batch/', 'out',
         '--recursive', '--no-progress', '--endpoint-url',
         s3_server.endpoint_url],
        env=aws_env, cwd=tmp_path, capture_output=True, text=True,
        timeout=120, preexec_fn=limit_file_size)
    assert result.returncode == 1
    [failure] = output_lines(result.stderr)
    assert failure.startswith(
        f'download failed: s3://{bucket}/batch/large to out/large '
        '[Errno 27] File too large')
    assert files_under(tmp_path / 'out') == {k[6:] for k in small}
    for key, body in small.items():
        assert file_sha256(tmp_path / 'out' / key[6:]) == sha256(body)


# One GET (below the threshold) of several buffers; its last block holds
# 4000 bytes.
WHOLE_SIZE = 3 * MiB + 4000


@pytest.mark.parametrize('cut', [1000, MiB, WHOLE_SIZE - 3000,
                                 WHOLE_SIZE - 1])
@pytest.mark.parametrize('how', ['truncate_after_bytes', 'reset_after_bytes'])
def test_a_whole_object_body_cut_anywhere_is_fetched_again(
        cut, how, ppcp, s3_client, bucket, fault_proxy, workdir):
    """Wherever the body breaks off (within the first buffer, at a buffer's
    end, within the last block), the retry writes it all."""
    body = os.urandom(WHOLE_SIZE)
    s3_client.put_object(Bucket=bucket, Key='whole.bin', Body=body)
    fault_proxy.add_rule(Rule(method='GET', key='whole.bin', times=1,
                              **{how: cut}))
    result = ppcp(f's3://{bucket}/whole.bin', 'whole.bin',
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    assert file_sha256(workdir / 'whole.bin') == sha256(body)
    assert len(fault_proxy.find_requests(method='GET', key='whole.bin')) == 2
    assert files_under(workdir) == {'whole.bin'}


@pytest.mark.parametrize('cut', [1000, 5 * MiB - 4000, 5 * MiB - 1])
@pytest.mark.parametrize('part_start', [0, 10 * MiB])
def test_a_part_body_cut_anywhere_is_fetched_again(
        cut, part_start, ppcp, multipart, bucket, fault_proxy, workdir):
    last_part = SIZE - 10 * MiB
    fault_proxy.add_rule(Rule(
        method='GET', key='big.bin', range_start=part_start, times=1,
        truncate_after_bytes=min(cut, last_part - 1)
        if part_start else cut))
    result = ppcp(f's3://{bucket}/big.bin', 'big.bin',
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    assert file_sha256(workdir / 'big.bin') == sha256(multipart)
    assert len(gets_at(fault_proxy, part_start)) == 2
    assert files_under(workdir) == {'big.bin'}


@pytest.mark.parametrize('listed', [True, False])
def test_a_response_shorter_than_the_object_is_refused(
        listed, ppcp, s3_server, bucket, fault_proxy, workdir):
    """A consistent response (its Content-Length 100 bytes short, its body
    as long) of an object without a checksum: the size S3 listed (or HEAD
    reported) is what counts. Not retried: it would come back the same."""
    client = make_s3_client(s3_server.endpoint_url,
                            request_checksum_calculation='when_required')
    client.put_object(Bucket=bucket, Key='p/k', Body=os.urandom(50000))
    client.close()
    fault_proxy.add_rule(Rule(method='GET', key='p/k', shorten_body_by=100))
    if listed:
        result = ppcp(f's3://{bucket}/p/', 'out', '--recursive',
                      endpoint_url=fault_proxy.endpoint_url)
        destination = 'out/k'
    else:
        result = ppcp(f's3://{bucket}/p/k', 'k',
                      endpoint_url=fault_proxy.endpoint_url)
        destination = './k'
    assert result.returncode == 1
    assert output_lines(result.stderr) == [
        f'download failed: s3://{bucket}/p/k to {destination} '
        f's3://{bucket}/p/k has 50000 bytes, but its GET announced 49900; '
        'the file was not written.']
    assert len(fault_proxy.find_requests(method='GET', key='p/k')) == 1
    assert files_under(workdir) == set()
