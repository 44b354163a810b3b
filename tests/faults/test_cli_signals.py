"""Signals to a running ``aws s3 ppcp``: Ctrl-C, SIGTERM, and the parent
killed outright. Each ends with no process left, no temp file, and nothing
at the destination (the download was slowed down by the proxy so that it is
certainly in the middle of its parts when the signal arrives)."""
import os
import signal
import sys

import pytest

from tests.faults.cli_process import (
    ONE_FILE_CHILDREN, all_gone, temp_files, wait_for_three_gets)
from tests.faults.proxy import Rule
from tests.helpers import descendant_pids, files_under, wait_until


@pytest.fixture
def slow_download(big_object, bucket, fault_proxy, start_ppcp, out,
                  cli_tmpdir):
    """``aws s3 ppcp`` of the 3-part object, once all three GETs are under
    way and its children are the monitor, the submitter and 3 workers."""
    return start_slow_download(start_ppcp, fault_proxy, bucket, out)


def start_slow_download(start_ppcp, fault_proxy, bucket, out, *args):
    ppcp = start_ppcp([f's3://{bucket}/big.bin', 'big.bin', *args], out)
    wait_for_three_gets(fault_proxy)
    ppcp.wait_for_children(ONE_FILE_CHILDREN)
    return ppcp


def test_ctrl_c_cancels_cleans_up_and_exits_1(slow_download, out,
                                              cli_tmpdir):
    ppcp = slow_download
    os.killpg(ppcp.pid, signal.SIGINT)   # the terminal signals the group
    assert ppcp.wait() == 1
    assert ppcp.stderr_lines == ['cancelled: ctrl-c received']
    wait_until(lambda: all_gone(ppcp.children), 5, 'children still running')
    assert files_under(out) == set()
    assert files_under(cli_tmpdir) == set()


def test_sigterm_cleans_up_and_exits_143(slow_download, out, cli_tmpdir):
    ppcp = slow_download
    ppcp.process.terminate()
    assert ppcp.wait() == 143
    wait_until(lambda: all_gone(ppcp.children), 5, 'children still running')
    assert files_under(out) == set()
    assert files_under(cli_tmpdir) == set()


def test_the_parent_killed_leaves_nothing_behind(
        big_object, bucket, start_ppcp, fault_proxy, out, cli_tmpdir):
    """The children notice their parent is gone, remove the temp file and
    exit; with no parent left to rename it, nothing appears afterwards.
    With ``--no-resume``: by default the temp file of an object fetched in
    parts and its record stay for a rerun (test_resume.py)."""
    ppcp = start_slow_download(start_ppcp, fault_proxy, bucket, out,
                               '--no-resume')
    ppcp.process.kill()
    ppcp.process.wait(30)
    wait_until(lambda: all_gone(ppcp.children), 10, 'orphans still running')
    assert files_under(out) == set()
    # Once the proxy has finished (or abandoned) every throttled GET, no
    # process could still be writing: nothing appeared in the meantime.
    wait_until(lambda: len(fault_proxy.alive_threads) <= 1, 30,
               'the proxy still streams to someone')
    assert files_under(out) == set()
    assert files_under(cli_tmpdir) == set()


def test_ctrl_c_during_a_stream(big_object, bucket, fault_proxy, start_ppcp,
                                out, cli_tmpdir):
    """``aws s3 ppcp s3://b/k -`` interrupted: the same message and exit
    code, and the stream's temp directory is removed."""
    ppcp = start_ppcp([f's3://{bucket}/big.bin', '-'], out)
    wait_for_three_gets(fault_proxy)
    ppcp.wait_for_children(ONE_FILE_CHILDREN)
    assert [n for n in os.listdir(cli_tmpdir)
            if n.startswith('ppcp-stream-')]
    os.killpg(ppcp.pid, signal.SIGINT)
    assert ppcp.wait() == 1
    assert ppcp.stderr_lines == ['cancelled: ctrl-c received']
    wait_until(lambda: all_gone(ppcp.children), 5, 'children still running')
    assert os.listdir(cli_tmpdir) == []


CTRL_C_AT_FORK = os.path.join(os.path.dirname(__file__), 'ctrl_c_at_fork.py')


@pytest.mark.timeout(120)
@pytest.mark.parametrize('fork', range(len(ONE_FILE_CHILDREN)), ids=[
    f'during-the-fork-of-{name}' for name in ONE_FILE_CHILDREN])
def test_ctrl_c_during_start_up_cancels(fork, big_object, bucket, start_ppcp,
                                        out, cli_tmpdir):
    """Ctrl-C while each child is forked (the first three from the main
    thread, the others from the thread that starts later workers): the
    same message and exit code as later, no temp file left; neither lost
    in a fork hook nor a hang. (At the fork of a later worker, the one
    thread-started fork, the interrupt is sometimes acted on only once the
    download is complete: then the complete file stays, as a file finished
    before a Ctrl-C does.)"""
    ppcp = start_ppcp([f's3://{bucket}/big.bin', 'big.bin'], out,
                      aws=(sys.executable, CTRL_C_AT_FORK, str(fork)))
    assert ppcp.wait() == 1, ppcp.stderr
    assert ppcp.stderr_lines == ['cancelled: ctrl-c received']
    wait_until(lambda: all_gone(ppcp.children), 5, 'children still running')
    assert temp_files(out) == []
    if files_under(out):
        assert (out / 'big.bin').read_bytes() == big_object
    assert files_under(cli_tmpdir) == set()


@pytest.mark.timeout(120)
@pytest.mark.parametrize('args', [['--recursive'], []],
                         ids=['many-files', 'a-stream'])
def test_ctrl_c_at_the_first_fork_of_other_downloads_cancels(
        args, big_object, bucket, start_ppcp, out, cli_tmpdir):
    """The command starts the children before the CLI's result thread for
    every download: a Ctrl-C then is reported as later, not lost outside
    the transfer handler (``aws`` exits 130 with no line for an interrupt
    it was not told about)."""
    source, destination = ((f's3://{bucket}/', 'all') if args
                           else (f's3://{bucket}/big.bin', '-'))
    ppcp = start_ppcp([source, destination, *args], out,
                      aws=(sys.executable, CTRL_C_AT_FORK, '0'))
    assert ppcp.wait() == 1, ppcp.stderr
    assert ppcp.stderr_lines == ['cancelled: ctrl-c received']
    wait_until(lambda: all_gone(ppcp.children), 5, 'children still running')
    assert files_under(out) == set()
    assert files_under(cli_tmpdir) == set()


def test_the_group_killed_leaves_a_temp_file_per_get_in_flight_at_most(
        s3_client, bucket, fault_proxy, start_ppcp, aws_env, out,
        cli_tmpdir):
    """SIGKILL of the whole group (an OOM kill of the service, say) runs no
    clean-up at all: what is left is what existed at that moment. A temp
    file is created when its GET's bytes start, so of 60 queued objects
    only those whose GET was under way (10 requests at once) leave one."""
    aws_env.set_config('s3', {'max_concurrent_requests': '10'})
    for i in range(60):
        s3_client.put_object(Bucket=bucket, Key=f'many/{i:02}',
                             Body=os.urandom(100_000))
    fault_proxy.add_rule(Rule(method='GET', key='many/',
                              throttle_bytes_per_second=1000))
    ppcp = start_ppcp([f's3://{bucket}/many/', 'dest', '--recursive'], out)

    def gets():
        return fault_proxy.find_requests(method='GET', key='many/')

    def temps():
        return temp_files(out)
    wait_until(lambda: len(gets()) >= 3 and len(temps()) >= len(gets()), 60,
               'the GETs never started')
    ppcp.children.update(descendant_pids(ppcp.pid))
    os.killpg(ppcp.pid, signal.SIGKILL)
    ppcp.process.wait(30)
    wait_until(lambda: all_gone(ppcp.children), 10, 'children still running')
    in_flight = len(gets())
    assert in_flight <= 10
    assert 1 <= len(temps()) <= in_flight
    assert files_under(out) == set(temps())
    # The monitor's socket was abstract: no ppcp-* directory is left (a
    # fork server's pymp-* may be: multiprocessing's own).
    assert [n for n in os.listdir(cli_tmpdir) if n.startswith('ppcp-')] == []
