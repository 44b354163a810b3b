"""A worker's parts spliced from an ``http11`` socket into the temp file
(``awscli_ppdl.splicing``), against a scripted server on 127.0.0.1: the
same bytes at the same offsets, the same retries, and the same bytes again
when the file or the socket refuses ``splice`` (``os.splice`` made to fail
as a file system without it fails: ``EINVAL``)."""
import awscli  # noqa: F401  (before botocore: selects the vendored copy)

import errno
import os
import threading

import pytest
from botocore.response import StreamingBody

from awscli_ppdl import fileio, http11, splicing
from awscli_ppdl.getobject import _object_body
from awscli_ppdl.monitor import TransferMonitor
from awscli_ppdl.records import GetObjectJob, TransferOutcome
from awscli_ppdl.worker import Worker
from tests.scripted_server import ok

MiB = 1024 * 1024
START = 1234
BODY = os.urandom(3 * MiB + 7)
TOTAL = START + 2 * len(BODY)


def part(body, start):
    return ok(body, b'Content-Range: bytes %d-%d/%d' % (
        start, start + len(body) - 1, TOTAL))


class PoolSender:
    """A worker's sender reduced to ``http11``: the GET goes to the
    scripted server, its body is what ``GetObjectSender`` makes of a
    direct GET's."""

    def __init__(self, url):
        self._url = url
        self._pool = http11.ConnectionPool()

    def get_object(self, bucket, key, extra_args):
        response = self._pool.get(self._url + '/' + key, [
            ('Range', extra_args['Range'])])
        length = int(response.headers['content-length'])
        return _object_body(StreamingBody(response.body, length), length,
                            response.headers.get('content-range'))


@pytest.fixture
def run_parts(scripted_server, tmp_path):
    """Run the jobs of the parts at ``START`` and after it (each ``BODY``)
    in one worker, against ``script``; (file contents, outcomes, progress,
    server)."""
    def run(*script, parts=2):
        server = scripted_server(*script)
        monitor = TransferMonitor()
        worker = Worker(PoolSender(server.url), monitor, threading.Event())
        temp = str(tmp_path / 'big.bin.ppcp-tmp')
        for index in range(parts):
            offset = START + index * len(BODY)
            worker.run_job(GetObjectJob(
                transfer_id=1, bucket='b', key='big.bin',
                temp_filename=temp, extra_args={
                    'Range': f'bytes={offset}-{offset + len(BODY) - 1}'},
                offset=offset, length=len(BODY), part_index=index,
                num_parts=parts, reserve=TOTAL))
        events = monitor.collect(0)
        with open(temp, 'rb') as f:
            return f.read(), events.outcomes, events.progress, server
    return run


def splice_counts(monkeypatch, refuse=lambda into_file, call: False):
    """Count ``os.splice`` calls socket to pipe and pipe to file; make a
    call fail with EINVAL where ``refuse(into_file, its number)``."""
    counts = {False: 0, True: 0}
    splice = os.splice

    def counted(src, dst, count, offset_src=None, offset_dst=None, flags=0):
        into_file = offset_dst is not None
        counts[into_file] += 1
        if refuse(into_file, counts[into_file]):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return splice(src, dst, count, offset_src, offset_dst, flags)
    monkeypatch.setattr(os, 'splice', counted)
    return counts


def pwrites_counted(monkeypatch):
    offsets = []
    pwrite_all = fileio.pwrite_all
    monkeypatch.setattr(fileio, 'pwrite_all', lambda fd, data, offset: (
        offsets.append(offset), pwrite_all(fd, data, offset)))
    return offsets


EXPECTED = b'\0' * START + BODY + BODY


@pytest.mark.parametrize('refuse, spliced_to_the_end', [
    (lambda into_file, call: False, True),
    # The file system refuses: its first body's bytes come out of the pipe.
    (lambda into_file, call: into_file, False),
    # Refused after a few rounds, in the middle of the first part.
    (lambda into_file, call: into_file and call == 3, False),
    # The socket refuses (nothing taken from it yet).
    (lambda into_file, call: not into_file, False),
], ids=['spliced', 'file-refuses', 'file-refuses-later', 'socket-refuses'])
def test_parts_arrive_whole_whether_spliced_or_not(
        refuse, spliced_to_the_end, run_parts, monkeypatch):
    counts = splice_counts(monkeypatch, refuse)
    pwrites = pwrites_counted(monkeypatch)
    contents, outcomes, progress, server = run_parts(
        [part(BODY, START), part(BODY, START + len(BODY))])
    assert contents == EXPECTED
    assert outcomes == [TransferOutcome(1, None, False, 2 * len(BODY))]
    assert sum(nbytes for _, nbytes in progress) == 2 * len(BODY)
    # Both bodies read to their end: the connection served both GETs.
    assert [number for number, _ in server.requests] == [0, 0]
    if spliced_to_the_end:
        assert pwrites == []
        assert counts[False] > 0
        assert counts[True] >= 2 * 3  # 1 MiB per round at most
    else:
        assert pwrites != []


def test_a_part_cut_short_while_spliced_is_fetched_again(
        run_parts, monkeypatch):
    """The connection ends 1 MiB + 5 bytes into the body: an
    ``IncompleteRead``, retried on a new connection; the bytes left in the
    pipe of the cut body go nowhere."""
    monkeypatch.setattr('awscli_ppdl.checkedget.RETRY_MAX_DELAY', 0)
    counts = splice_counts(monkeypatch)
    cut = part(BODY, START)[:-(len(BODY) - MiB - 5)]
    contents, outcomes, progress, server = run_parts(
        [cut], [part(BODY, START)], parts=1)
    assert contents[:START + len(BODY)] == EXPECTED[:START + len(BODY)]
    assert outcomes == [TransferOutcome(1, None, False, len(BODY))]
    assert sum(nbytes for _, nbytes in progress) == len(BODY)
    assert [number for number, _ in server.requests] == [0, 1]
    assert counts[True] > 0


def test_a_full_disk_is_the_files_error_not_retried(run_parts, monkeypatch):
    """Splice into the file fails with ENOSPC: the same bytes written with
    ``pwrite`` fail alike, and that is the job's error (not a GET to
    retry)."""
    def refuse(into_file, call):
        if into_file:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return False
    splice_counts(monkeypatch, refuse)

    def disk_full(fd, data, offset):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(fileio, 'pwrite_all', disk_full)
    _, outcomes, _, server = run_parts([part(BODY, START)], parts=1)
    [outcome] = outcomes
    assert outcome.error.errno == errno.ENOSPC
    assert len(server.requests) == 1


def test_a_thread_with_only_a_small_pipe_reads_its_bodies(
        run_parts, monkeypatch):
    """Past the user's quota of pipe memory, Linux makes pipes of 8 KiB
    and refuses larger ones: rounds that small would cost more than the
    buffer's reads."""
    monkeypatch.setattr(splicing, 'PIPE_SIZE', 8192)
    counts = splice_counts(monkeypatch)
    pwrites = pwrites_counted(monkeypatch)
    contents, outcomes, _, _ = run_parts(
        [part(BODY, START), part(BODY, START + len(BODY))])
    assert contents == EXPECTED
    assert outcomes == [TransferOutcome(1, None, False, 2 * len(BODY))]
    assert counts == {False: 0, True: 0}
    assert len(pwrites) == 2 * 13  # 256 KiB at a time


def test_a_small_body_is_written_from_memory(scripted_server, tmp_path,
                                             monkeypatch):
    """Under LARGE_GET_BYTES a body mostly comes with its head: one
    ``pwrite`` of it, no pipe."""
    counts = splice_counts(monkeypatch)
    small = BODY[:100000]
    server = scripted_server([ok(small, b'Content-Range: bytes 0-99999/'
                                        b'100000')])
    monitor = TransferMonitor()
    worker = Worker(PoolSender(server.url), monitor, threading.Event())
    temp = str(tmp_path / 'small.ppcp-tmp')
    worker.run_job(GetObjectJob(
        transfer_id=1, bucket='b', key='small', temp_filename=temp,
        extra_args={'Range': 'bytes=0-99999'}, offset=0, length=len(small),
        part_index=0, num_parts=1, reserve=len(small)))
    assert monitor.collect(0).outcomes == [
        TransferOutcome(1, None, False, len(small))]
    with open(temp, 'rb') as f:
        assert f.read() == small
    assert counts == {False: 0, True: 0}


def test_a_process_has_no_more_pipes_than_large_gets_in_flight():
    """A pool of two lends two splicers at once, a third body is read
    (None), and a splicer given back is lent again, not made anew: the
    pipes of a worker process are bounded by its large GETs, not by its
    threads (which are more, and would each keep one)."""
    pool = splicing.SplicerPool(2)
    with pool.borrowed() as first, pool.borrowed() as second:
        assert first is not None and second is not None
        assert first is not second
        with pool.borrowed() as third:
            assert third is None
    with pool.borrowed() as again, pool.borrowed() as other:
        assert {again, other} == {first, second}
