"""Signals to a running ``aws s3 ppcp``: Ctrl-C, SIGTERM, and the parent
killed outright. Each ends with no process left, no temp file, and nothing
at the destination (the download was slowed down by the proxy so that it is
certainly in the middle of its parts when the signal arrives)."""
import os
import signal
import subprocess

import pytest

from tests.faults.proxy import Rule
from tests.helpers import (
    descendant_pids, files_under, output_lines, pid_alive, process_name,
    wait_until)
from tests.s3server import AWS_SCRIPT

MiB = 1024 * 1024


def as_from_a_terminal():
    """Run in the child before exec: Ctrl-C must reach ``aws`` as it does
    from a terminal. A process started in the background by a
    non-interactive shell (``nohup``, ``cmd &`` in a CI script) inherits
    SIGINT ignored, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def slow_download(aws_env, s3_client, bucket, fault_proxy, tmp_path):
    """Start ``aws s3 ppcp`` on a 3-part object streamed at 256 KiB/s per
    part; return it once all three GETs are under way."""
    aws_env.set_config('s3', {'multipart_threshold': '5MB',
                              'multipart_chunksize': '5MB'})
    s3_client.put_object(Bucket=bucket, Key='big.bin',
                         Body=os.urandom(12 * MiB))
    fault_proxy.add_rule(Rule(method='GET', key='big.bin', has_range=True,
                              throttle_bytes_per_second=256 * 1024))
    out = tmp_path / 'out'
    out.mkdir()
    aws_env['TMPDIR'] = str(tmp_path / 'tmp')
    os.mkdir(aws_env['TMPDIR'])
    process = subprocess.Popen(
        [AWS_SCRIPT, 's3', 'ppcp', f's3://{bucket}/big.bin', 'big.bin',
         '--endpoint-url', fault_proxy.endpoint_url],
        cwd=out, env=aws_env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
        preexec_fn=as_from_a_terminal)
    children = []
    try:
        wait_until(lambda: len(fault_proxy.find_requests(
            method='GET', key='big.bin')) == 3, 60, 'the GETs never started')
        children = descendant_pids(process.pid)
        assert sorted(process_name(p) for p in children) == [
            'ppcp-monitor', 'ppcp-submitter', 'ppcp-worker-0',
            'ppcp-worker-1', 'ppcp-worker-2']
        yield process, children, out
    finally:
        for pid in [process.pid, *children]:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=30)


def all_gone(pids):
    return not any(pid_alive(pid) for pid in pids)


def test_ctrl_c_cancels_cleans_up_and_exits_1(slow_download):
    process, children, out = slow_download
    os.killpg(process.pid, signal.SIGINT)   # the terminal signals the group
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert output_lines(stderr) == ['cancelled: ctrl-c received']
    wait_until(lambda: all_gone(children), 5, 'children still running')
    assert files_under(out) == set()
    assert files_under(out.parent / 'tmp') == set()


def test_sigterm_cleans_up_and_exits_143(slow_download):
    process, children, out = slow_download
    process.terminate()
    process.communicate(timeout=30)
    assert process.returncode == 143
    wait_until(lambda: all_gone(children), 5, 'children still running')
    assert files_under(out) == set()
    assert files_under(out.parent / 'tmp') == set()


def test_the_parent_killed_leaves_nothing_behind(slow_download, fault_proxy):
    """The children notice their parent is gone, remove the temp file and
    exit; with no parent left to rename it, nothing appears afterwards."""
    process, children, out = slow_download
    process.kill()
    process.communicate(timeout=30)
    wait_until(lambda: all_gone(children), 10, 'orphans still running')
    assert files_under(out) == set()
    # Once the proxy has finished (or abandoned) every throttled GET, no
    # process could still be writing: nothing appeared in the meantime.
    wait_until(lambda: len(fault_proxy.alive_threads) <= 1, 30,
               'the proxy still streams to someone')
    assert files_under(out) == set()
    assert files_under(out.parent / 'tmp') == set()


def test_ctrl_c_during_a_stream(aws_env, s3_client, bucket, fault_proxy,
                                tmp_path):
    """``aws s3 ppcp s3://b/k -`` interrupted: the same message and exit
    code, and the stream's temp directory is removed."""
    aws_env.set_config('s3', {'multipart_threshold': '5MB',
                              'multipart_chunksize': '5MB'})
    temp = tmp_path / 'tmp'
    temp.mkdir()
    aws_env['TMPDIR'] = str(temp)
    s3_client.put_object(Bucket=bucket, Key='big.bin',
                         Body=os.urandom(12 * MiB))
    fault_proxy.add_rule(Rule(method='GET', key='big.bin', has_range=True,
                              throttle_bytes_per_second=256 * 1024))
    process = subprocess.Popen(
        [AWS_SCRIPT, 's3', 'ppcp', f's3://{bucket}/big.bin', '-',
         '--endpoint-url', fault_proxy.endpoint_url],
        env=aws_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True,
        preexec_fn=as_from_a_terminal)
    children = []
    try:
        wait_until(lambda: len(fault_proxy.find_requests(
            method='GET', key='big.bin')) == 3, 60, 'the GETs never started')
        children = descendant_pids(process.pid)
        assert [n for n in os.listdir(temp) if n.startswith('ppcp-stream-')]
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
        assert process.returncode == 1
        assert output_lines(stderr.decode()) == ['cancelled: ctrl-c received']
        wait_until(lambda: all_gone(children), 5, 'children still running')
        assert os.listdir(temp) == []
    finally:
        for pid in [process.pid, *children]:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=30)
