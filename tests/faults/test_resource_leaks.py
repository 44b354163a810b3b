"""What a long-lived process keeps after its downloads: nothing.

test_resources.py shows the monitor stays bounded over 5,000 transfers and
that an exception raised in a worker before its GET crosses as a summary.
These add: the same for an exception raised halfway through writing a part
of a multipart download, or raised in the submitter; a cancel that races with
the end of its transfer; and downloaders started and shut down one after the
other (finished, cancelled, broken), which must leave no thread, descriptor,
process or temp directory behind.
"""
import contextlib
import errno
import gc
import logging
import multiprocessing
import os
import signal
import tempfile
import threading
import time

import pytest
from s3transfer.exceptions import CancelledError

from awscli_ppdl import fileio, pool, splicing
from awscli_ppdl import submitter as submitter_module
from awscli_ppdl.processpool import ProcessPoolBrokenError
from awscli_ppdl.records import RemoteError
from tests.faults.proxy import Rule
from tests.helpers import (
    Undescribable, Unpicklable, assert_no_temp_files, files_under,
    library_downloader, wait_until)

MiB = 1024 * 1024


class UnpicklableDiskError(OSError):
    def __init__(self, *args):
        super().__init__(*args)
        self.lock = threading.Lock()

    def __reduce__(self):
        raise TypeError('cannot pickle this exception')



# -- an exception raised halfway through a part

@pytest.fixture
def two_objects(s3_client, bucket):
    """``bad`` and ``good``: 3 MiB each, three 1 MiB parts."""
    bodies = {key: os.urandom(3 * MiB) for key in ('bad', 'good')}
    for key, body in bodies.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    return bodies


def fail_mid_part(monkeypatch, exception):
    """Make the workers (forked after this) raise ``exception`` when they
    write the second part of ``bad``:
    its temp file exists and holds part of the bytes by then."""
    def in_second_part_of_bad(fd, offset):
        target = os.readlink(f'/proc/self/fd/{fd}')
        return (os.path.basename(target).startswith('bad.')
                and MiB <= offset < 2 * MiB)

    original = fileio.pwrite_all

    def pwrite_all(fd, data, offset):
        if in_second_part_of_bad(fd, offset + len(data) - 1):
            raise exception
        return original(fd, data, offset)

    monkeypatch.setattr(fileio, 'pwrite_all', pwrite_all)
    # Parts are written by pwrite, not spliced past it (a spliced part's
    # failing write is tests/unit/test_splicing.py's).
    monkeypatch.setattr(splicing, 'AVAILABLE', False)


@pytest.mark.timeout(60)
@pytest.mark.parametrize('exception, expected_type, expected_str', [
    (Unpicklable('the disk controller said no'), RemoteError,
     'the disk controller said no'),
    (Undescribable(), RemoteError, '(the error could not be described)'),
    # An OSError keeps its errno and text, as OSError: its class is lost.
    (UnpicklableDiskError(errno.ENOSPC, 'No space left on device'), OSError,
     '[Errno 28] No space left on device'),
], ids=['unpicklable', 'undescribable', 'unpicklable-oserror'])
def test_an_exception_mid_write_of_a_part_arrives_as_a_summary(
        exception, expected_type, expected_str, monkeypatch, two_objects,
        s3_server, bucket, tmp_path):
    fail_mid_part(monkeypatch, exception)
    with library_downloader(s3_server.endpoint_url) as downloader:
        bad = downloader.download_file(bucket, 'bad', str(tmp_path / 'bad'),
                                       expected_size=3 * MiB)
        with pytest.raises(Exception) as error:
            bad.result(timeout=30)
        assert_no_temp_files(tmp_path)
        good = downloader.download_file(bucket, 'good',
                                        str(tmp_path / 'good'),
                                        expected_size=3 * MiB)
        good.result(timeout=30)
    assert type(error.value) is expected_type
    assert str(error.value) == expected_str
    if expected_type is RemoteError:
        assert error.value.type_name == type(exception).__name__
    else:
        assert error.value.errno == errno.ENOSPC
    assert (tmp_path / 'good').read_bytes() == two_objects['good']
    assert files_under(tmp_path) == {'good'}
    assert multiprocessing.active_children() == []


# -- an exception raised in the submitter

def fail_planning(monkeypatch, exception):
    """The submitter (forked after this) raises while planning ``bad``."""
    original = submitter_module.Submitter._plan

    def plan(self, request, *args):
        if request.key == 'bad':
            raise exception
        return original(self, request, *args)
    monkeypatch.setattr(submitter_module.Submitter, '_plan', plan)


@pytest.mark.timeout(60)
@pytest.mark.parametrize('exception, expected_str', [
    (Unpicklable('no plan for you'), 'no plan for you'),
    (Undescribable(), '(the error could not be described)'),
], ids=['unpicklable', 'undescribable'])
def test_an_exception_in_the_submitter_arrives_as_a_summary(
        exception, expected_str, monkeypatch, two_objects, s3_server,
        bucket, tmp_path):
    fail_planning(monkeypatch, exception)
    with library_downloader(s3_server.endpoint_url) as downloader:
        bad = downloader.download_file(bucket, 'bad', str(tmp_path / 'bad'),
                                       expected_size=3 * MiB)
        with pytest.raises(Exception) as error:
            bad.result(timeout=30)
        assert type(error.value) is RemoteError, repr(error.value)
        assert error.value.type_name == type(exception).__name__
        assert str(error.value) == expected_str
        good = downloader.download_file(bucket, 'good',
                                        str(tmp_path / 'good'),
                                        expected_size=3 * MiB)
        good.result(timeout=30)
    assert (tmp_path / 'good').read_bytes() == two_objects['good']
    assert files_under(tmp_path) == {'good'}


# -- a cancel that races with the end of its transfer

class BlockingOnDone:
    """An ``on_done`` subscriber that holds the collector thread."""

    def __init__(self):
        self.called = threading.Event()
        self.release = threading.Event()

    def on_done(self, future, **kwargs):
        self.called.set()
        self.release.wait(30)


@pytest.mark.timeout(60)
def test_a_cancel_racing_with_the_end_of_its_transfer_is_forgotten(
        s3_client, s3_server, bucket, tmp_path):
    s3_client.put_object(Bucket=bucket, Key='k', Body=b'payload')
    rounds = 3
    blockers = [BlockingOnDone() for _ in range(rounds)]
    with library_downloader(s3_server.endpoint_url) as downloader:
        downloader.start()
        monitor = downloader._lifecycle.running.children.monitor
        try:
            for i, blocker in enumerate(blockers):
                held = downloader.download_file(
                    bucket, 'k', str(tmp_path / f'held-{i}'),
                    expected_size=7, subscribers=[blocker])
                assert blocker.called.wait(30), 'on_done never called'
                # The collector is busy in on_done: the next transfer's
                # outcome waits in the monitor, the parent has not seen it.
                before = monitor.state_size()
                late = downloader.download_file(
                    bucket, 'k', str(tmp_path / f'late-{i}'), expected_size=7)
                wait_until(lambda: monitor.state_size() > before, 30,
                           'the transfer never finished in the monitor')
                late.cancel()
                blocker.release.set()
                with pytest.raises(CancelledError):
                    late.result(timeout=30)
                held.result(timeout=30)
            # The parent tells the monitor to forget a cancelled transfer
            # at its next collect, within SUPERVISION_INTERVAL.
            with contextlib.suppress(AssertionError):
                wait_until(lambda: monitor.state_size() == 0, 5, '')
            assert monitor.state_size() == 0
        finally:
            for blocker in blockers:
                blocker.release.set()
    assert files_under(tmp_path) == {f'held-{i}' for i in range(rounds)}


# -- downloaders one after the other

def open_fds():
    return len(os.listdir('/proc/self/fd'))


def fd_targets():
    """What this process's descriptors point at (for failure messages)."""
    targets = []
    for fd in os.listdir('/proc/self/fd'):
        try:
            targets.append(os.readlink(f'/proc/self/fd/{fd}'))
        except OSError:
            pass
    return ' '.join(sorted(targets))


def ppcp_threads():
    """The engine's threads alive now (earlier tests' leftovers included:
    compare with a baseline)."""
    return {t for t in threading.enumerate() if t.name.startswith('ppcp-')}


@pytest.fixture
def private_tmpdir(tmp_path, monkeypatch):
    """The engine's temp directories (monitor socket, streams) go here."""
    path = tmp_path / 'tmpdir'
    path.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(path))
    return path


@pytest.fixture
def slow_object(s3_client, bucket, fault_proxy):
    """``slow``: 2 MiB at 128 KiB/s a GET; ``started`` is set by its first
    GET; ``fine``: 4 bytes."""
    s3_client.put_object(Bucket=bucket, Key='slow', Body=os.urandom(2 * MiB))
    s3_client.put_object(Bucket=bucket, Key='fine', Body=b'fine')
    started = threading.Event()
    fault_proxy.add_rule(Rule(method='GET', key='slow',
                              callback=lambda record: started.set(),
                              throttle_bytes_per_second=128 * 1024))
    return started


def finished_run(endpoint_url, bucket, dest):
    with library_downloader(endpoint_url) as downloader:
        downloader.download_file(bucket, 'fine', str(dest / 'fine'),
                                 expected_size=4).result(timeout=30)


def slow_run_under_way(endpoint_url, bucket, dest, started):
    """A downloader fetching ``slow``, once its GET has started."""
    started.clear()
    downloader = library_downloader(endpoint_url)
    future = downloader.download_file(bucket, 'slow', str(dest / 'slow'),
                                      expected_size=2 * MiB)
    assert started.wait(30), 'the GET never started'
    return downloader, future


def cancelled_run(endpoint_url, bucket, dest, started):
    """Returns the downloader, shut down, and the exception of its future."""
    downloader, future = slow_run_under_way(endpoint_url, bucket, dest,
                                            started)
    downloader.shutdown(cancel=True)
    assert future.done()
    return downloader, future.exception()


def broken_run(endpoint_url, bucket, dest, started):
    downloader, future = slow_run_under_way(endpoint_url, bucket, dest,
                                            started)
    [worker] = [p for p in multiprocessing.active_children()
                if p.name == 'ppcp-worker-0']
    os.kill(worker.pid, signal.SIGKILL)
    with pytest.raises(ProcessPoolBrokenError):
        future.result(timeout=30)
    downloader.shutdown()


def settled_resources():
    """Descriptors and engine threads once the engine has let go of them."""
    gc.collect()
    return open_fds(), ppcp_threads()


def no_more_than(baseline):
    """No more descriptors than at the baseline, and no new engine thread
    (the baseline may hold a few transient descriptors that close later)."""
    def check():
        fds, threads = settled_resources()
        return fds <= baseline[0] and threads <= baseline[1]
    return check


def warmed_up_baseline(endpoint_url, bucket, dest, started):
    """The resources after one finished and one cancelled run, which warm
    up what is created once per process (botocore's loaders,
    multiprocessing's resource helpers)."""
    finished_run(endpoint_url, bucket, dest)
    cancelled_run(endpoint_url, bucket, dest, started)
    return settled_resources()


def assert_back_to(baseline):
    with contextlib.suppress(AssertionError):
        wait_until(no_more_than(baseline), 5, '')
    assert no_more_than(baseline)(), (settled_resources(), baseline,
                                      fd_targets())


@pytest.mark.timeout(90)
def test_downloaders_in_turn_leave_nothing_behind(
        slow_object, fault_proxy, bucket, tmp_path, private_tmpdir):
    dest = tmp_path / 'dest'
    dest.mkdir()
    url = fault_proxy.endpoint_url
    baseline = warmed_up_baseline(url, bucket, dest, slow_object)
    for _ in range(3):
        finished_run(url, bucket, dest)
        exception = cancelled_run(url, bucket, dest, slow_object)[1]
        # (Sometimes ProcessPoolBrokenError: see
        # test_a_cancel_is_not_mistaken_for_a_dead_child.)
        assert isinstance(exception, (CancelledError, ProcessPoolBrokenError))
    assert_back_to(baseline)
    assert multiprocessing.active_children() == []
    assert os.listdir(private_tmpdir) == []
    assert files_under(dest) == {'fine'}


@pytest.mark.timeout(90)
def test_broken_downloaders_in_turn_leave_nothing_behind(
        slow_object, fault_proxy, bucket, tmp_path, private_tmpdir):
    """A worker killed in each: shutdown() after the broken pool still
    stops the child-log thread and removes the monitor's socket dir."""
    dest = tmp_path / 'dest'
    dest.mkdir()
    url = fault_proxy.endpoint_url
    baseline = warmed_up_baseline(url, bucket, dest, slow_object)
    for _ in range(3):
        broken_run(url, bucket, dest, slow_object)
    assert multiprocessing.active_children() == []
    assert files_under(dest) == {'fine'}
    assert_back_to(baseline)
    assert os.listdir(private_tmpdir) == []


# -- a cancel while a child is slow to exit

def monitor_slow_to_exit(monkeypatch, seconds):
    """The monitor process (forked after this) takes ``seconds`` to exit
    on SIGTERM, as a busy process on a loaded machine may; it still answers
    meanwhile."""
    original = pool.prepare_child

    def prepare_child(on_parent_death=None, name=None, child_logging=None):
        original(on_parent_death, name, child_logging)
        if name == 'ppcp-monitor':
            def linger(signum, frame):
                time.sleep(seconds)
                os._exit(0)
            signal.signal(signal.SIGTERM, linger)
    monkeypatch.setattr(pool, 'prepare_child', prepare_child)


@pytest.mark.timeout(60)
def test_a_cancel_is_not_mistaken_for_a_dead_child(
        slow_object, fault_proxy, bucket, tmp_path, monkeypatch, caplog):
    monitor_slow_to_exit(monkeypatch, 1.5)
    with caplog.at_level(logging.DEBUG, logger='awscli_ppdl'):
        downloader, exception = cancelled_run(
            fault_proxy.endpoint_url, bucket, tmp_path, slow_object)
    assert multiprocessing.active_children() == []
    assert files_under(tmp_path) == set()
    # Shut down by its owner, not broken by a child's death (deterministic
    # once the collector has looked at the children during the cancel)...
    assert [r.getMessage() for r in caplog.records
            if r.getMessage().startswith('Process pool broken')] == []
    # ...and so its download was cancelled (half the time, without the fix).
    assert type(exception) is CancelledError, repr(exception)
    assert str(exception) == ''
    # The next download starts the processes again, as the seed's does.
    with downloader:
        downloader.download_file(bucket, 'fine', str(tmp_path / 'fine'),
                                 expected_size=4).result(timeout=30)
    assert (tmp_path / 'fine').read_bytes() == b'fine'
    assert multiprocessing.active_children() == []
