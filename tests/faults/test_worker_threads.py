"""Worker processes make their share of the GETs at once, one per thread.

The profile's ``max_concurrent_requests`` are the GETs in flight, as for
``aws s3 cp``; without one, 32 per CPU (at most 128), because cp's 10 leave
a link with latency idle, and 16 per CPU of them (at most 64) may be large
(parts, objects of a MiB or more), which gain nothing from more. The
worker processes that share them are one per CPU by default
(``--processes`` sets how many). The proxy holds GETs until the others
have been asked for: with fewer requests in flight than it waits for,
they never would be.
"""
import os
import re
import threading

import pytest

from tests.faults.cli_process import (
    ONE_FILE_CHILDREN, SIZE, all_gone, kill_worker_and_expect_one_fatal_error,
    wait_for_three_gets)
from tests.faults.proxy import Rule
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


def requests_in_flight(debug_output):
    """The engine's own account of its requests and processes."""
    return re.findall(r'awscli_ppdl.command - DEBUG - (\d+) requests in '
                      r'flight \((\d+) of them large\), shared by at most '
                      r'(\d+) worker processes', debug_output)


def started_workers(debug_output):
    return debug_output.count('awscli_ppdl.pool - DEBUG - Started '
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
    body, released = first_part_held
    result = download(aws_env, bucket, fault_proxy, tmp_path,
                      preexec_fn=only_cpus(cpus))
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


def only_cpus(count):
    """Run the CLI on ``count`` of the CPUs this test may use (``taskset``);
    skips the test where there are fewer."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < count:
        pytest.skip(f'needs {count} CPUs')
    return lambda: os.sched_setaffinity(0, available[:count])


class HeldAtOnce:
    """A proxy callback that holds each GET until ``release_at`` are held at
    once, or until one has waited ``patience`` seconds, and from then on
    lets every GET through; ``most`` is the most it held at once."""

    def __init__(self, release_at, patience):
        self._release_at = release_at
        self._patience = patience
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._held = 0
        self.most = 0
        self.ran_out_of_patience = False

    def __call__(self, record):
        with self._lock:
            self._held += 1
            self.most = max(self.most, self._held)
            if self._held >= self._release_at:
                self._released.set()
        if not self._released.wait(self._patience):
            self.ran_out_of_patience = True
            self._released.set()
        with self._lock:
            self._held -= 1


def download_many(bodies, s3_client, bucket, fault_proxy, aws_env, tmp_path,
                  probe, held_at_once):
    """``held_at_once``: the ``(most, ran_out_of_patience)`` expected of the
    probe."""
    for key, body in bodies.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    fault_proxy.add_rule(Rule(callback=probe, method='GET', key='many/'))
    result = run_aws(['s3', 'ppcp', f's3://{bucket}/many/', tmp_path / 'out',
                      '--recursive', '--debug',
                      '--endpoint-url', fault_proxy.endpoint_url],
                     env=aws_env, preexec_fn=only_cpus(2))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (probe.most, probe.ran_out_of_patience) == held_at_once
    assert requests_in_flight(result.stderr) == [('64', '32', '2')]
    assert {f'many/{path}': (tmp_path / 'out' / path).read_bytes()
            for path in files_under(tmp_path / 'out')} == bodies


def test_without_a_profile_setting_64_small_gets_are_in_flight_on_two_cpus(
        s3_client, bucket, fault_proxy, aws_env, tmp_path):
    """Every GET is held until 64 are: with cp's 10 in flight, or the 32
    large ones, the 65th would never be."""
    probe = HeldAtOnce(release_at=64, patience=60)
    bodies = {f'many/{n:02}.bin': os.urandom(1024) for n in range(80)}
    download_many(bodies, s3_client, bucket, fault_proxy, aws_env, tmp_path,
                  probe, held_at_once=(64, False))


def test_without_a_profile_setting_32_large_gets_are_in_flight_on_two_cpus(
        s3_client, bucket, fault_proxy, aws_env, tmp_path):
    """The parts of 1 MiB are held until a 33rd is asked for, which must
    not be: 32 are in flight, and no thread waits for a slot with a part
    in hand, or fewer would be asked for at once."""
    aws_env.set_config('s3', {'multipart_threshold': '1MB',
                              'multipart_chunksize': '1MB'})
    probe = HeldAtOnce(release_at=33, patience=10)
    bodies = {'many/big.bin': os.urandom(48 * 1024 * 1024)}
    download_many(bodies, s3_client, bucket, fault_proxy, aws_env, tmp_path,
                  probe, held_at_once=(32, True))


@pytest.mark.parametrize('cpus, profile, processes, expected', [
    (1, {}, None, ('32', '16', '1')),
    (2, {}, '1', ('64', '32', '1')),
    (2, {'max_concurrent_requests': '10'}, None, ('10', '10', '2')),
    (1, {'max_concurrent_requests': '100'}, '4', ('100', '100', '4')),
])
def test_the_profile_setting_rules_and_the_default_follows_the_cpus(
        cpus, profile, processes, expected, first_part_held, aws_env,
        bucket, fault_proxy, tmp_path):
    """``--processes`` shares the requests out; it does not change them."""
    body, released = first_part_held
    aws_env.set_config('s3', {'multipart_threshold': '5MB',
                              'multipart_chunksize': '5MB', **profile})
    result = download(aws_env, bucket, fault_proxy, tmp_path,
                      *(['--processes', processes] if processes else []),
                      preexec_fn=only_cpus(cpus))
    assert result.returncode == 0, result.stderr[-3000:]
    assert requests_in_flight(result.stderr) == [expected]
    assert released == [True]
    assert (tmp_path / 'big.bin').read_bytes() == body
