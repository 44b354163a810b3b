"""A child process dies mid-download: the library API fails, never hangs."""
import multiprocessing
import os
import signal
import threading

import pytest

from awscli_ppdl.processpool import ProcessPoolBrokenError
from tests.faults.cli_process import (
    ONE_FILE_CHILDREN, all_gone, kill_child_and_expect_one_fatal_error,
    wait_for_one_temp_file, wait_for_three_gets)
from tests.faults.proxy import Rule
from tests.helpers import (
    assert_no_temp_files, files_under, library_downloader,
    wait_until)

MiB = 1024 * 1024


def child_named(prefix):
    matches = [p for p in multiprocessing.active_children()
               if p.name.startswith(prefix)]
    assert matches, [p.name for p in multiprocessing.active_children()]
    return matches[0]


@pytest.mark.timeout(60)
@pytest.mark.parametrize('start_method', ['fork', 'spawn'])
@pytest.mark.parametrize('victim, description', [
    ('ppcp-worker-0', 'worker process 0'),
    ('ppcp-submitter', 'the submitter process'),
    ('TransferMonitorManager', 'the transfer monitor process'),
])
def test_a_dead_child_fails_the_downloads_in_flight(
        victim, description, start_method, s3_client, bucket, fault_proxy,
        tmp_path):
    s3_client.put_object(Bucket=bucket, Key='slow', Body=os.urandom(4 * MiB))
    get_started = threading.Event()
    fault_proxy.add_rule(Rule(method='GET', key='slow',
                              callback=lambda record: get_started.set(),
                              throttle_bytes_per_second=256 * 1024))
    downloader = library_downloader(fault_proxy.endpoint_url,
                                    start_method=start_method)
    future = downloader.download_file(bucket, 'slow', str(tmp_path / 'slow'),
                                      expected_size=4 * MiB)
    assert get_started.wait(30), 'the download never started'
    dead = child_named(victim)
    os.kill(dead.pid, signal.SIGKILL)

    with pytest.raises(ProcessPoolBrokenError) as error:
        future.result(timeout=30)
    assert str(error.value) == (
        f'Download aborted: {description} (pid {dead.pid}) was killed by '
        'SIGKILL; the downloads in progress were stopped and their '
        'temporary files removed.')
    with pytest.raises(ProcessPoolBrokenError):
        downloader.download_file(bucket, 'slow', str(tmp_path / 'again'))
    work_dir = downloader._lifecycle.running.children.work_dir
    downloader.shutdown()
    assert files_under(tmp_path) == set()
    assert multiprocessing.active_children() == []
    # Nor does a broken pool leave the monitor's socket directory behind.
    assert not os.path.exists(work_dir)


@pytest.mark.timeout(60)
def test_shutdown_with_cancel_stops_at_once(s3_client, bucket, fault_proxy,
                                            tmp_path):
    s3_client.put_object(Bucket=bucket, Key='slow', Body=os.urandom(4 * MiB))
    get_started = threading.Event()
    fault_proxy.add_rule(Rule(method='GET', key='slow',
                              callback=lambda record: get_started.set(),
                              throttle_bytes_per_second=64 * 1024))
    downloader = library_downloader(fault_proxy.endpoint_url)
    future = downloader.download_file(bucket, 'slow', str(tmp_path / 'slow'))
    assert get_started.wait(30)
    downloader.shutdown(cancel=True, cancel_msg='stop now')
    assert future.done()
    with pytest.raises(Exception) as error:
        future.result()
    assert type(error.value).__name__ == 'CancelledError'
    assert str(error.value) == 'stop now'
    assert_no_temp_files(tmp_path)
    assert files_under(tmp_path) == set()
    assert multiprocessing.active_children() == []


@pytest.mark.timeout(60)
def test_cancel_one_future(s3_client, bucket, fault_proxy, tmp_path):
    s3_client.put_object(Bucket=bucket, Key='slow', Body=os.urandom(3 * MiB))
    s3_client.put_object(Bucket=bucket, Key='fine', Body=b'fine')
    get_started = threading.Event()
    fault_proxy.add_rule(Rule(method='GET', key='slow',
                              callback=lambda record: get_started.set(),
                              throttle_bytes_per_second=1 * MiB))
    with library_downloader(fault_proxy.endpoint_url) as downloader:
        slow = downloader.download_file(bucket, 'slow', str(tmp_path / 'slow'))
        assert get_started.wait(30)
        slow.cancel()
        fine = downloader.download_file(bucket, 'fine', str(tmp_path / 'fine'))
    fine.result()
    with pytest.raises(Exception) as error:
        slow.result()
    assert type(error.value).__name__ == 'CancelledError'
    assert files_under(tmp_path) == {'fine'}


@pytest.mark.timeout(90)
def test_the_monitor_killed_while_the_cli_waits_is_one_fatal_error(
        big_object, bucket, fault_proxy, start_ppcp, out, cli_tmpdir):
    """``aws s3 ppcp`` of one file has left its ``with`` block (it is
    closing, waiting for the download) when the monitor is killed: the pool
    breaks as at any other time, rather than waiting for ever."""
    ppcp = start_ppcp([f's3://{bucket}/big.bin', 'big.bin'], out)
    wait_for_three_gets(fault_proxy)
    ppcp.wait_for_children(ONE_FILE_CHILDREN)
    wait_for_one_temp_file(out)
    kill_child_and_expect_one_fatal_error(
        ppcp, 'ppcp-monitor', 'the transfer monitor process')
    wait_until(lambda: all_gone(ppcp.children), 5, 'children still running')
    assert files_under(out) == set()
    assert files_under(cli_tmpdir) == set()
