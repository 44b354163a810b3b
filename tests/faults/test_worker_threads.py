"""Worker processes make their share of the GETs at once, one per thread.

The profile's ``max_concurrent_requests`` (10 unless set) are the GETs in
flight, as for ``aws s3 cp``; the worker processes that share them are one
per CPU by default (``--processes`` sets how many), so a download keeps as
many requests going on two CPUs as on ten. The proxy holds the GET of the
first part until the other two have been asked for: with fewer requests in
flight than parts, they never would be.
"""
import os

import pytest

from tests.faults.cli_process import (
    ONE_FILE_CHILDREN, SIZE, all_gone, kill_worker_and_expect_one_fatal_error,
    wait_for_three_gets)
from tests.helpers import files_under, wait_until
from tests.s3server import run_aws


@pytest.fixture
def first_part_held(s3_client, bucket, fault_proxy, aws_env):
    """``big.bin`` in three 5 MiB parts; its first GET is answered once the
    others have been asked for. Its list gets True if they were (within a
    minute), None if not."""
    body = os.urandom(SIZE)
    s3_client.put_object(Bucket=bucket, Key='big.bin', Body=body)
    aws_env.set_config('s3', {'multipart_threshold': '5MB',
                              'multipart_chunksize': '5MB'})
    released = fault_proxy.hold_until(
        lambda: len(fault_proxy.find_requests(method='GET',
                                              key='big.bin')) >= 3,
        lambda: True, method='GET', key='big.bin', range_start=0)
    return body, released


def started_workers(debug_output):
    return debug_output.count('awscli_ppdl.processpool - DEBUG - Started '
                              'ppcp-worker-')


def download(aws_env, bucket, fault_proxy, tmp_path, *args, **options):
    return run_aws(['s3', 'ppcp', f's3://{bucket}/big.bin',
                    tmp_path / 'big.bin', '--debug',
                    '--endpoint-url', fault_proxy.endpoint_url, *args],
                   env=aws_env, **options)


def test_one_process_makes_every_request_at_once(
        first_part_held, aws_env, bucket, fault_proxy, tmp_path):
    body, released = first_part_held
    result = download(aws_env, bucket, fault_proxy, tmp_path,
                      '--processes', '1')
    assert result.returncode == 0, result.stderr[-3000:]
    assert released == [True]
    assert started_workers(result.stderr) == 1
    assert (tmp_path / 'big.bin').read_bytes() == body


@pytest.mark.parametrize('cpus', [1, 2])
def test_by_default_one_process_per_cpu_shares_the_requests(
        cpus, first_part_held, aws_env, bucket, fault_proxy, tmp_path):
    """The CPUs it may run on (``taskset``), not the machine's."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < cpus:
        pytest.skip(f'needs {cpus} CPUs')
    body, released = first_part_held
    result = download(
        aws_env, bucket, fault_proxy, tmp_path,
        preexec_fn=lambda: os.sched_setaffinity(0, available[:cpus]))
    assert result.returncode == 0, result.stderr[-3000:]
    assert released == [True]
    assert started_workers(result.stderr) == cpus
    assert (tmp_path / 'big.bin').read_bytes() == body


def test_a_killed_worker_with_several_requests_in_flight_stops_the_download(
        big_object, bucket, fault_proxy, start_ppcp, out, cli_tmpdir):
    """All three parts are in one process when the OOM killer picks it."""
    ppcp = start_ppcp([f's3://{bucket}/big.bin', 'big.bin'], out,
                      processes=1)
    wait_for_three_gets(fault_proxy)
    ppcp.wait_for_children(ONE_FILE_CHILDREN[:3])
    kill_worker_and_expect_one_fatal_error(ppcp, 0)
    wait_until(lambda: all_gone(ppcp.children), 5, 'children still running')
    assert files_under(out) == set()
    assert os.listdir(cli_tmpdir) == []


def test_no_more_processes_than_concurrent_requests(
        first_part_held, aws_env, bucket, fault_proxy, tmp_path):
    """Each worker makes at least one GET at once: ``--processes 40`` with
    ``max_concurrent_requests = 2`` starts two, not one per part."""
    body, released = first_part_held
    aws_env.set_config('s3', {'multipart_threshold': '5MB',
                              'multipart_chunksize': '5MB',
                              'max_concurrent_requests': '2'})
    result = download(aws_env, bucket, fault_proxy, tmp_path,
                      '--processes', '40')
    assert result.returncode == 0, result.stderr[-3000:]
    assert released == [True]
    assert started_workers(result.stderr) == 2
    assert (tmp_path / 'big.bin').read_bytes() == body
