"""--checksum-mode ENABLED: every byte checked against the object's checksum,
for a whole-object GET (botocore, as it reads) and for an object fetched in
ranges (the assembled file, before it is renamed into place)."""
import base64
import hashlib
import os

import pytest

from tests.helpers import (
    file_sha256, files_under, library_downloader, output_lines, sha256)

MiB = 1024 * 1024
ALGORITHMS = ['CRC32', 'CRC32C', 'SHA1', 'SHA256', 'CRC64NVME']


@pytest.fixture
def in_parts(cli_env):
    cli_env.set_config('s3', {'multipart_threshold': '5MB',
                              'multipart_chunksize': '5MB'})


@pytest.mark.parametrize('algorithm', ALGORITHMS)
@pytest.mark.parametrize('size', [1000, 11 * MiB + 7], ids=['whole', 'parts'])
def test_objects_with_a_checksum_download_and_verify(
        algorithm, size, in_parts, ppcp, s3_client, bucket, workdir):
    body = os.urandom(size)
    s3_client.put_object(Bucket=bucket, Key='k', Body=body,
                         ChecksumAlgorithm=algorithm)
    result = ppcp(f's3://{bucket}/k', 'k', '--checksum-mode', 'ENABLED')
    assert result.returncode == 0, result.stderr
    assert file_sha256(workdir / 'k') == sha256(body)


@pytest.mark.parametrize('size', [1000, 11 * MiB + 7], ids=['whole', 'parts'])
def test_a_checksum_mismatch_fails_and_leaves_nothing(
        size, in_parts, ppcp, s3_client, bucket, workdir):
    """The server stored a SHA256 of other bytes: the download fails with
    botocore's message and no file (or temp file) is left."""
    wrong = base64.b64encode(hashlib.sha256(b'other bytes').digest()).decode()
    s3_client.put_object(Bucket=bucket, Key='k', Body=os.urandom(size),
                         ChecksumAlgorithm='SHA256', ChecksumSHA256=wrong)
    s3_client.put_object(Bucket=bucket, Key='ok', Body=b'fine',
                         ChecksumAlgorithm='SHA256')
    result = ppcp(f's3://{bucket}/', 'out', '--recursive',
                  '--checksum-mode', 'ENABLED')
    assert result.returncode == 1
    [failure] = output_lines(result.stderr)
    assert failure.startswith(
        f'download failed: s3://{bucket}/k to out/k Expected checksum '
        f'{wrong} did not match calculated checksum: ')
    assert files_under(workdir / 'out') == {'ok'}


def test_without_checksum_mode_no_head_object_is_made(
        in_parts, ppcp, s3_client, bucket, workdir, fault_proxy):
    """Checking costs one HeadObject per object fetched in parts; it is only
    paid when asked for."""
    body = os.urandom(11 * MiB)
    s3_client.put_object(Bucket=bucket, Key='p/k', Body=body,
                         ChecksumAlgorithm='CRC32')
    for extra in ([], ['--checksum-mode', 'ENABLED']):
        result = ppcp(f's3://{bucket}/p/', 'out', '--recursive', *extra,
                      endpoint_url=fault_proxy.endpoint_url)
        assert result.returncode == 0, result.stderr
        assert file_sha256(workdir / 'out' / 'k') == sha256(body)
    heads = fault_proxy.find_requests(method='HEAD')
    assert len(heads) == 1
    assert heads[0].headers['x-amz-checksum-mode'] == 'ENABLED'


def test_without_a_size_one_head_object_serves_size_and_checksum(
        s3_client, bucket, fault_proxy, tmp_path):
    """A library download with no ``expected_size`` in checksum mode: the
    HeadObject that finds the size also brings the checksum."""
    body = os.urandom(3 * MiB + 5)
    s3_client.put_object(Bucket=bucket, Key='k', Body=body,
                         ChecksumAlgorithm='SHA256')
    with library_downloader(fault_proxy.endpoint_url) as downloader:
        downloader.download_file(
            bucket, 'k', str(tmp_path / 'k'),
            extra_args={'ChecksumMode': 'ENABLED'}).result(timeout=60)
    assert file_sha256(tmp_path / 'k') == sha256(body)
    assert len(fault_proxy.find_requests(method='HEAD')) == 1
    assert len(fault_proxy.find_requests(method='GET')) == 4
