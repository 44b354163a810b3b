"""Parts over plain HTTP are spliced from the socket into the file
(``awscli_ppdl.splicing``), byte for byte, with the same retries and
messages as bodies read through the buffer; a body whose MD5 or CRC the
worker checks never is. ``--debug`` shows which way each body went (in a
``aws`` process of its own: the CLI's debug handler stays on the logging
of a process that ran it)."""
import os
import re

import pytest

from tests.faults.proxy import Rule
from tests.helpers import file_sha256, files_under, output_lines, sha256
from tests.s3server import make_s3_client, run_aws

MiB = 1024 * 1024
SIZE = 12 * MiB + 12345  # three 5 MiB parts, the last one short
PART_STARTS = [0, 5 * MiB, 10 * MiB]
SPLICED = re.compile(r' - awscli_ppdl\.splicing - DEBUG - Spliced (\d+) '
                     r'bytes into the file at (\d+)$', re.MULTILINE)


@pytest.fixture
def in_parts(cli_env):
    cli_env.set_config('s3', {'multipart_threshold': '5MB',
                              'multipart_chunksize': '5MB'})


@pytest.fixture
def ppcp_debug(cli_env, s3_server, workdir):
    """``aws s3 ppcp ARGS --debug`` in a process of its own, from
    ``workdir``."""
    def run(*args, endpoint_url=None):
        return run_aws(['s3', 'ppcp', *args, '--debug', '--endpoint-url',
                        endpoint_url or s3_server.endpoint_url],
                       env=cli_env, cwd=workdir)
    return run


def spliced(stderr):
    """(offset, length) of each body spliced to its end, in order."""
    return sorted((int(offset), int(length))
                  for length, offset in SPLICED.findall(stderr))


def test_the_parts_of_a_large_object_are_spliced(
        in_parts, ppcp_debug, s3_client, bucket, workdir):
    body = os.urandom(SIZE)
    s3_client.put_object(Bucket=bucket, Key='big.bin', Body=body)
    result = ppcp_debug(f's3://{bucket}/big.bin', 'big.bin')
    assert result.returncode == 0, result.stderr[-3000:]
    assert file_sha256(workdir / 'big.bin') == sha256(body)
    assert spliced(result.stderr) == [
        (0, 5 * MiB), (5 * MiB, 5 * MiB), (10 * MiB, SIZE - 10 * MiB)]
    assert files_under(workdir) == {'big.bin'}


@pytest.mark.parametrize('cut', [1000, 2 * MiB + 1, 5 * MiB - 1])
def test_a_spliced_part_cut_short_is_fetched_again(
        cut, in_parts, ppcp_debug, s3_client, bucket, fault_proxy,
        workdir):
    body = os.urandom(SIZE)
    s3_client.put_object(Bucket=bucket, Key='big.bin', Body=body)
    fault_proxy.add_rule(Rule(method='GET', key='big.bin',
                              range_start=5 * MiB, times=1,
                              truncate_after_bytes=cut))
    result = ppcp_debug(f's3://{bucket}/big.bin', 'big.bin',
                        endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr[-3000:]
    assert file_sha256(workdir / 'big.bin') == sha256(body)
    gets = [r for r in fault_proxy.find_requests(method='GET', key='big.bin')
            if r.range_start == 5 * MiB]
    assert len(gets) == 2
    assert 'IncompleteRead' in result.stderr
    assert spliced(result.stderr) == [
        (0, 5 * MiB), (5 * MiB, 5 * MiB), (10 * MiB, SIZE - 10 * MiB)]


def test_a_spliced_part_that_keeps_breaking_off_fails_as_before(
        in_parts, ppcp, s3_client, bucket, fault_proxy, workdir):
    """aws s3 cp's words and its 5 GETs, nothing left behind (with
    --no-resume, as cp: what resume keeps is tests/faults/test_resume.py's)."""
    s3_client.put_object(Bucket=bucket, Key='big.bin',
                         Body=os.urandom(SIZE))
    fault_proxy.add_rule(Rule(method='GET', key='big.bin',
                              range_start=5 * MiB, reset_after_bytes=3 * MiB))
    result = ppcp(f's3://{bucket}/big.bin', 'big.bin', '--no-resume',
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 1
    [failure] = output_lines(result.stderr)
    assert failure.startswith(
        f'download failed: s3://{bucket}/big.bin to ./big.bin ')
    assert 'Max Retries Exceeded' in failure
    gets = [r for r in fault_proxy.find_requests(method='GET', key='big.bin')
            if r.range_start == 5 * MiB]
    assert len(gets) == 5
    assert files_under(workdir) == set()


def test_bodies_with_a_digest_are_read_not_spliced(
        in_parts, ppcp_debug, s3_server, s3_client, bucket, workdir):
    """A whole object whose MD5 the worker checks against its ETag, and the
    parts of one whose CRC it combines: the worker's digests see every
    byte, so none of them is spliced (and the checks pass)."""
    plain = make_s3_client(s3_server.endpoint_url,
                           request_checksum_calculation='when_required')
    whole = os.urandom(3 * MiB + 5)
    plain.put_object(Bucket=bucket, Key='md5/k', Body=whole)
    plain.close()
    with_crc = os.urandom(SIZE)
    s3_client.put_object(Bucket=bucket, Key='crc/k', Body=with_crc,
                         ChecksumAlgorithm='CRC64NVME')
    result = ppcp_debug(f's3://{bucket}/md5/k', 'md5')
    assert result.returncode == 0, result.stderr[-3000:]
    assert file_sha256(workdir / 'md5') == sha256(whole)
    assert spliced(result.stderr) == []
    result = ppcp_debug(f's3://{bucket}/crc/k', 'crc',
                        '--checksum-mode', 'ENABLED')
    assert result.returncode == 0, result.stderr[-3000:]
    assert file_sha256(workdir / 'crc') == sha256(with_crc)
    assert spliced(result.stderr) == []
    # The same object without --checksum-mode: no CRC, so spliced.
    result = ppcp_debug(f's3://{bucket}/crc/k', 'crc')
    assert result.returncode == 0, result.stderr[-3000:]
    assert file_sha256(workdir / 'crc') == sha256(with_crc)
    assert [offset for offset, _ in spliced(result.stderr)] == PART_STARTS
