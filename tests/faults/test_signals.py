"""More signals to a running ``aws s3 ppcp`` than test_cli_signals.py sends.

test_cli_signals.py covers Ctrl-C to the group, SIGTERM to the CLI alone and
the CLI killed outright, for one multipart file. These cover the other ways a
download is stopped from outside: SIGTERM and SIGHUP to the whole process
group (a service manager, a closed terminal), Ctrl-C in the middle of a
recursive download (finished files stay), and a stream to stdout that is
interrupted or loses its parent, a worker killed by the OOM killer, and a
hangup under ``nohup``. Every download is throttled by the proxy so that it
is certainly under way when the signal arrives.
"""
import hashlib
import os
import signal

import pytest

from tests.faults.cli_process import (
    MiB, ONE_FILE_CHILDREN, SIZE, THROTTLE, all_gone, as_under_nohup,
    kill_worker_and_expect_one_fatal_error,
    wait_for_one_temp_file, wait_for_three_gets)
from tests.faults.proxy import Rule
from tests.helpers import files_under, output_lines, wait_until


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGHUP],
                         ids=['sigterm', 'sighup'])
def test_a_signal_to_the_process_group_leaves_nothing_behind(
        signum, big_object, bucket, fault_proxy, start_ppcp, out,
        cli_tmpdir):
    """A service manager stops the whole group (SIGTERM: the children die at
    once, keeping its default action, while the parent cleans up), or the
    terminal is closed (SIGHUP: the children ignore it, the parent stops as
    for SIGTERM). Exit 128 + the signal, one message, nothing left."""
    ppcp = start_ppcp([f's3://{bucket}/big.bin', 'big.bin'], out)
    wait_for_three_gets(fault_proxy)
    ppcp.wait_for_children(ONE_FILE_CHILDREN)
    wait_for_one_temp_file(out)

    os.killpg(ppcp.pid, signum)
    assert ppcp.wait() == 128 + signum, ppcp.stderr
    assert ppcp.stderr_lines == [
        f'fatal error: terminated by {signal.Signals(signum).name}']
    wait_until(lambda: all_gone(ppcp.children), 5, 'children still running')
    assert files_under(out) == set()
    assert os.listdir(cli_tmpdir) == []


def test_under_nohup_a_hangup_does_not_stop_the_download(
        s3_client, bucket, fault_proxy, start_ppcp, out, cli_tmpdir):
    body = os.urandom(SIZE)
    s3_client.put_object(Bucket=bucket, Key='big.bin', Body=body)
    # Slow enough to be certainly under way at the hangup, and done in ~5 s.
    fault_proxy.add_rule(Rule(method='GET', key='big.bin', has_range=True,
                              throttle_bytes_per_second=MiB))
    ppcp = start_ppcp([f's3://{bucket}/big.bin', 'big.bin'], out,
                      preexec_fn=as_under_nohup)
    wait_for_three_gets(fault_proxy)
    ppcp.wait_for_children(ONE_FILE_CHILDREN)
    wait_for_one_temp_file(out)

    os.killpg(ppcp.pid, signal.SIGHUP)
    assert ppcp.wait(60) == 0, ppcp.stderr
    assert hashlib.sha256((out / 'big.bin').read_bytes()).hexdigest() == \
        hashlib.sha256(body).hexdigest()
    assert files_under(out) == {'big.bin'}
    wait_until(lambda: all_gone(ppcp.children), 5, 'children still running')
    assert os.listdir(cli_tmpdir) == []


def assert_kept_only(ppcp, bucket, out, files, cli_tmpdir):
    """Exactly ``files`` ({key: bytes}) were downloaded into ``out/dest``,
    printed and kept, complete; no process or temp file is left."""
    assert sorted(output_lines(ppcp.stdout.decode())) == sorted(
        f'download: s3://{bucket}/{key} to dest/{key}' for key in files)
    wait_until(lambda: all_gone(ppcp.children), 5, 'children still running')
    assert files_under(out) == {f'dest/{key}' for key in files}
    for key, body in files.items():
        assert (out / 'dest' / key).read_bytes() == body
    assert os.listdir(cli_tmpdir) == []


def test_ctrl_c_mid_recursive_download_keeps_the_finished_files(
        big_object, s3_client, bucket, fault_proxy, start_ppcp, out,
        cli_tmpdir):
    """As ``aws s3 cp --recursive``: the files already downloaded stay,
    complete; the one in progress leaves nothing, not even a temp file."""
    small = {f'small-{i}.txt': os.urandom(1000 + i) for i in range(5)}
    for key, body in small.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    ppcp = start_ppcp([f's3://{bucket}/', 'dest', '--recursive',
                       '--no-progress'], out)
    dest = out / 'dest'
    wait_for_three_gets(fault_proxy)
    wait_until(lambda: set(small) <= files_under(dest), 60,
               'the small files were never downloaded')
    ppcp.wait_for_children(ONE_FILE_CHILDREN)
    wait_for_one_temp_file(out)

    os.killpg(ppcp.pid, signal.SIGINT)
    assert ppcp.wait() == 1, ppcp.stderr
    assert ppcp.stderr_lines == ['cancelled: ctrl-c received']
    assert_kept_only(ppcp, bucket, out, small, cli_tmpdir)


def test_a_worker_killed_mid_recursive_download_stops_it_with_one_line(
        big_object, s3_client, bucket, fault_proxy, start_ppcp, out,
        cli_tmpdir):
    """The pool is gone, so the command stops with one line, not one per
    file still in flight; the files already downloaded stay, complete,
    even one whose worker went on to a GET that hangs."""
    done = {f'done-{i}.txt': os.urandom(1000 + i) for i in range(3)}
    held = [f'held-{i}.txt' for i in range(4)]
    for key, body in done.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    for key in held:
        s3_client.put_object(Bucket=bucket, Key=key, Body=b'held back')
        fault_proxy.add_rule(Rule(method='GET', key=key, delay_seconds=60))
    ppcp = start_ppcp([f's3://{bucket}/', 'dest', '--recursive',
                       '--no-progress'], out)
    dest = out / 'dest'
    wait_for_three_gets(fault_proxy)
    wait_until(lambda: all(fault_proxy.find_requests(method='GET', key=key)
                           for key in held), 60,
               'the held-back GETs never started')
    wait_until(lambda: set(done) <= files_under(dest), 60,
               'the small files were never downloaded')
    # Seven GETs in flight (big.bin's three parts and the held files) in
    # the three worker processes' ten threads.
    ppcp.wait_for_children(ONE_FILE_CHILDREN)

    kill_worker_and_expect_one_fatal_error(ppcp, 1)
    assert_kept_only(ppcp, bucket, out, done, cli_tmpdir)


@pytest.fixture
def middle_range_first(s3_client, bucket, fault_proxy):
    """``big.bin`` whose second range arrives at once while the first and
    third crawl: the second waits, complete, in the stream's temp dir."""
    body = os.urandom(SIZE)
    s3_client.put_object(Bucket=bucket, Key='big.bin', Body=body)
    # First match wins: this no-op rule keeps the throttle off that range.
    fault_proxy.add_rule(Rule(method='GET', key='big.bin',
                              range_start=5 * MiB, delay_seconds=0))
    fault_proxy.add_rule(Rule(method='GET', key='big.bin', has_range=True,
                              throttle_bytes_per_second=THROTTLE))
    return body


def stream_files(temp):
    return {p for p in files_under(temp) if p.startswith('ppcp-stream-')}


def wait_for_the_second_range(temp):
    """Renamed into place by the parent: ``ppcp-stream-XXXX/5242880.part``,
    and the temp files of the other two, which a worker creates only once
    their response headers are in (under load, after the second is done)."""
    wait_until(lambda: any(p.endswith(f'/{5 * MiB}.part')
                           for p in stream_files(temp)), 30,
               'the second range never arrived')
    wait_until(lambda: len(stream_files(temp)) == 3, 30,
               'the first and third ranges never started to arrive')


def stream_until_the_second_range_waits(start_ppcp, bucket, fault_proxy,
                                        cli_tmpdir, out):
    """``aws s3 ppcp s3://bucket/big.bin -`` (see middle_range_first), once
    its second range waits, complete, for the first."""
    ppcp = start_ppcp([f's3://{bucket}/big.bin', '-'], out)
    wait_for_three_gets(fault_proxy)
    ppcp.wait_for_children(ONE_FILE_CHILDREN)
    wait_for_the_second_range(cli_tmpdir)
    return ppcp


def test_ctrl_c_while_streaming_to_stdout(
        middle_range_first, bucket, fault_proxy, start_ppcp, cli_tmpdir,
        out):
    ppcp = stream_until_the_second_range_waits(start_ppcp, bucket,
                                               fault_proxy, cli_tmpdir, out)

    os.killpg(ppcp.pid, signal.SIGINT)
    assert ppcp.wait() == 1, ppcp.stderr
    assert ppcp.stderr_lines == ['cancelled: ctrl-c received']
    # The first range never came: nothing written, least of all the second.
    assert ppcp.stdout == b''
    wait_until(lambda: all_gone(ppcp.children), 5, 'children still running')
    assert os.listdir(cli_tmpdir) == []
    assert files_under(out) == set()


def test_sigterm_while_streaming_to_stdout_after_the_first_range(
        s3_client, bucket, fault_proxy, start_ppcp, cli_tmpdir, out):
    """The first range arrives at once, the others crawl: stdout holds
    exactly the first range when SIGTERM stops the stream."""
    body = os.urandom(SIZE)
    s3_client.put_object(Bucket=bucket, Key='big.bin', Body=body)
    # First match wins: this no-op rule keeps the throttle off that range.
    fault_proxy.add_rule(Rule(method='GET', key='big.bin', range_start=0,
                              delay_seconds=0))
    fault_proxy.add_rule(Rule(method='GET', key='big.bin', has_range=True,
                              throttle_bytes_per_second=THROTTLE))
    ppcp = start_ppcp([f's3://{bucket}/big.bin', '-'], out)
    wait_for_three_gets(fault_proxy)
    # The first range may be done before the third is queued: then two
    # workers are all the stream wants.
    ppcp.wait_for_children(ONE_FILE_CHILDREN[:-1], at_least=True)
    wait_until(lambda: len(ppcp.stdout) >= 5 * MiB, 30,
               'the first range never reached stdout')

    ppcp.process.send_signal(signal.SIGTERM)
    assert ppcp.wait() == 143, ppcp.stderr
    assert ppcp.stderr_lines == ['fatal error: terminated by SIGTERM']
    assert len(ppcp.stdout) == 5 * MiB
    assert hashlib.sha256(ppcp.stdout).hexdigest() == \
        hashlib.sha256(body[:5 * MiB]).hexdigest()
    wait_until(lambda: all_gone(ppcp.children), 5, 'children still running')
    assert os.listdir(cli_tmpdir) == []


def test_stream_parent_killed_leaves_nothing_in_tmpdir(
        middle_range_first, bucket, fault_proxy, start_ppcp, cli_tmpdir,
        out):
    ppcp = stream_until_the_second_range_waits(start_ppcp, bucket,
                                               fault_proxy, cli_tmpdir, out)

    ppcp.process.kill()
    ppcp.process.wait(30)
    wait_until(lambda: all_gone(ppcp.children), 10, 'orphans still running')
    assert ppcp.stdout == b''
    assert files_under(cli_tmpdir) == set()
    assert os.listdir(cli_tmpdir) == []


def test_a_worker_killed_mid_download_fails_it_clearly(
        big_object, bucket, fault_proxy, start_ppcp, out, cli_tmpdir):
    """The OOM killer picks a worker: nothing is left behind."""
    ppcp = start_ppcp([f's3://{bucket}/big.bin', 'big.bin'], out)
    wait_for_three_gets(fault_proxy)
    ppcp.wait_for_children(ONE_FILE_CHILDREN)
    kill_worker_and_expect_one_fatal_error(ppcp, 1)
    wait_until(lambda: all_gone(ppcp.children), 5, 'children still running')
    assert files_under(out) == set()
    # The CLI was already shutting down (waiting) when the pool broke, so
    # the shutdown's clean-up ran: the monitor's socket directory is gone.
    assert os.listdir(cli_tmpdir) == []

