"""A finished download wakes each next step at once: no step of a one-file
download (worker report, monitor, collector, the CLI's result printer,
shutdown, exit), nor the last reports of a recursive one, waits for a poll
interval, a batch age, a supervision tick or a join timeout to run out.

Each test runs the real ``aws s3 ppcp`` against moto (through the fault
proxy) with every such timer of the engine an hour long (the
``hour_long_timers`` plugin): a step that waited for one would hang until
the guard's timeout (a hang guard, not a speed limit).
"""
import os

import pytest

from tests.functional import hour_long_timers
from tests.helpers import descendant_pids, process_name
from tests.s3server import run_aws

from awscli_ppdl.command import _usable_cpus, default_concurrent_requests

HANG_GUARD = 90
BODY = os.urandom(1000)


def worker_threads():
    """Threads of the (first) worker process, 0 while there is none."""
    for pid in descendant_pids(os.getpid()):
        try:
            if process_name(pid) == 'ppcp-worker-0':
                return len(os.listdir(f'/proc/{pid}/task'))
        except OSError:
            continue
    return 0


@pytest.fixture
def slow_timers_env(aws_env, tmp_path):
    """``aws`` with the ``hour_long_timers`` plugin; ``.marker``: what it
    wrote (the parent, then each worker with its batch age)."""
    aws_env.set_config('hour_long_timers',
                       'tests.functional.hour_long_timers',
                       section='plugins')
    aws_env.marker = tmp_path / 'hour_long_timers'
    aws_env[hour_long_timers.MARKER] = str(aws_env.marker)
    return aws_env


@pytest.mark.parametrize('destination', ['DIR/', '.', 'DIR/t.bin'])
def test_one_object_completes_with_every_timer_an_hour_long(
        destination, slow_timers_env, s3_client, bucket, fault_proxy,
        tmp_path):
    """The three forms of a one-object download's destination. The GET is
    answered once the worker has started all its threads: they are more
    than its large-GET slots (``default_concurrent_requests``), and those
    idle on the job queue hold every slot, so the thread that wrote the
    file then waits for one (it used to hold the file's report meanwhile,
    until the batch's age ran out)."""
    s3_client.put_object(Bucket=bucket, Key='tiny/t.bin', Body=BODY)
    requests, large = default_concurrent_requests(_usable_cpus())
    assert requests > large
    # Main thread, parent watcher and report sender besides the GETs'.
    all_started = fault_proxy.hold_until(
        lambda: worker_threads() >= requests + 3, lambda: True,
        method='GET', key='tiny/t.bin')
    directory = tmp_path / 'dir'
    directory.mkdir()
    cwd = None
    if destination == '.':
        cwd, target = directory, '.'
    else:
        target = str(directory) + destination[len('DIR'):]
    result = run_aws(
        ['s3', 'ppcp', f's3://{bucket}/tiny/t.bin', target,
         '--processes', '1', '--endpoint-url', fault_proxy.endpoint_url],
        env=slow_timers_env, cwd=cwd, timeout=HANG_GUARD)
    assert result.returncode == 0, result.stderr
    assert slow_timers_env.marker.read_text().splitlines() == [
        'parent', f'worker REPORT_DELAY={hour_long_timers.HOUR}']
    assert all_started == [True]
    assert (directory / 't.bin').read_bytes() == BODY
    assert sorted(os.listdir(directory)) == ['t.bin']
    assert 'download: s3://' in result.stdout


MiB = 1024 * 1024


def test_a_multipart_object_completes_with_every_timer_an_hour_long(
        slow_timers_env, s3_client, bucket, fault_proxy, tmp_path):
    """Three 5 MiB parts, in one worker: the first part's GET is answered
    only once the other two are in the temp file, so the part that
    completes the file is not the one queued with nothing more to come
    (its report used to wait for a next job, REPORT_DELAY)."""
    body = os.urandom(12 * MiB)
    s3_client.put_object(Bucket=bucket, Key='big.bin', Body=body)
    slow_timers_env.set_config('s3', {'multipart_threshold': '5MB',
                                      'multipart_chunksize': '5MB'})
    directory = tmp_path / 'dir'
    directory.mkdir()

    def other_parts_written():
        temps = list(directory.glob('*.ppcp-tmp'))
        if not temps:
            return False
        with open(temps[0], 'rb') as f:
            f.seek(5 * MiB)
            return f.read() == body[5 * MiB:]

    first_part_released = fault_proxy.hold_until(
        other_parts_written, lambda: True, method='GET', key='big.bin',
        range_start=0)
    result = run_aws(
        ['s3', 'ppcp', f's3://{bucket}/big.bin', f'{directory}/',
         '--processes', '1', '--endpoint-url', fault_proxy.endpoint_url],
        env=slow_timers_env, timeout=HANG_GUARD)
    assert result.returncode == 0, result.stderr
    assert slow_timers_env.marker.read_text().splitlines() == [
        'parent', f'worker REPORT_DELAY={hour_long_timers.HOUR}']
    assert first_part_released == [True]
    assert (directory / 'big.bin').read_bytes() == body
    assert sorted(os.listdir(directory)) == ['big.bin']


def test_many_objects_in_two_workers_complete_with_every_timer_an_hour_long(
        slow_timers_env, s3_client, bucket, fault_proxy, tmp_path):
    """``--recursive``: the parent announces more to come, so the workers
    hold every report for a batch; once the parent waits for the
    downloads, each worker sends what it holds. (The last reports of the
    worker that did not take the last job used to wait for its threads'
    REPORT_DELAY.)"""
    bodies = {f'many/{n:02d}': os.urandom(100 + n) for n in range(24)}
    for key, body in bodies.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    directory = tmp_path / 'dir'
    result = run_aws(
        ['s3', 'ppcp', f's3://{bucket}/many/', str(directory), '--recursive',
         '--processes', '2', '--endpoint-url', fault_proxy.endpoint_url],
        env=slow_timers_env, timeout=HANG_GUARD)
    assert result.returncode == 0, result.stderr
    assert slow_timers_env.marker.read_text().splitlines() == [
        'parent', *[f'worker REPORT_DELAY={hour_long_timers.HOUR}'] * 2]
    assert sorted(os.listdir(directory)) == sorted(
        key[len('many/'):] for key in bodies)
    for key, body in bodies.items():
        assert (directory / key[len('many/'):]).read_bytes() == body
    assert result.stdout.count('download: s3://') == len(bodies)
