"""A FIFO or a device as the destination (``/dev/null``, ``/dev/stdout`` on a
pipe): written into, in order, as ``aws s3 cp`` writes into it, never
replaced by a renamed temp file; a directory destination is unaffected."""
import os
import signal
import stat
import threading

import pytest

from tests.faults.cli_process import Ppcp, all_gone
from tests.functional.test_streaming_like_cp import (
    BIG, aws_s3, stream_leftovers)
from tests.helpers import wait_until

# /dev/null's device number on Linux (mem, minor 3).
DEV_NULL_DEVICE = os.makedev(1, 3)


@pytest.fixture
def big(s3_client, bucket):
    """An object of 4 ranges (with ``stream_env``'s 5 MiB chunks)."""
    body = os.urandom(BIG)
    s3_client.put_object(Bucket=bucket, Key='big.bin', Body=body)
    return body


@pytest.fixture(autouse=True)
def dev_entries_kept():
    """``/dev/null`` and ``/dev/stdout``, put back as they were if a
    download replaced them with a regular file (as root, a rename over them
    succeeds)."""
    null = os.stat('/dev/null')
    stdout_target = os.readlink('/dev/stdout')
    assert stat.S_ISCHR(null.st_mode)
    try:
        yield
    finally:
        if not stat.S_ISCHR(os.lstat('/dev/null').st_mode):
            os.unlink('/dev/null')
            os.mknod('/dev/null', stat.S_IFCHR | 0o666, null.st_rdev)
            os.chmod('/dev/null', 0o666)
        if not os.path.islink('/dev/stdout'):
            os.unlink('/dev/stdout')
            os.symlink(stdout_target, '/dev/stdout')


class FifoReader:
    """Reads a FIFO to its end in a thread.

    The test holds a write end of its own until the download has exited, so
    the reader sees the end only then (and a download that never opens the
    FIFO leaves it with nothing rather than blocked for ever)."""

    def __init__(self, path):
        self.data = bytearray()
        self._read_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        os.set_blocking(self._read_fd, True)
        self._hold_fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        with os.fdopen(self._read_fd, 'rb') as fifo:
            for block in iter(lambda: fifo.read(1024 * 1024), b''):
                self.data += block

    def finish(self):
        os.close(self._hold_fd)
        self._thread.join(60)
        assert not self._thread.is_alive()
        return bytes(self.data)


@pytest.mark.parametrize('command', ['cp', 'ppcp'])
def test_a_fifo_is_written_into_as_by_cp(command, stream_env, s3_server,
                                         bucket, big, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fifo = tmp_path / 'fifo'
    os.mkfifo(fifo)
    reader = FifoReader(fifo)
    result = aws_s3(command, stream_env, s3_server.endpoint_url,
                    f's3://{bucket}/big.bin', 'fifo', '--no-progress')
    data = reader.finish()
    assert (result.returncode, result.stderr, result.stdout) == (
        0, b'', f'download: s3://{bucket}/big.bin to ./fifo\n'.encode())
    assert data == big
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(os.listdir(tmp_path)) == sorted(['aws', 'tmp', 'fifo'])
    assert stream_leftovers(stream_env.temp) == []


@pytest.mark.parametrize('command', ['cp', 'ppcp'])
def test_dev_null_stays_a_device(command, stream_env, s3_server, bucket, big,
                                 tmp_path, monkeypatch):
    """How downloads are timed: ``aws s3 ppcp s3://b/big /dev/null``."""
    monkeypatch.chdir(tmp_path)
    result = aws_s3(command, stream_env, s3_server.endpoint_url,
                    f's3://{bucket}/big.bin', '/dev/null', '--no-progress')
    assert (result.returncode, result.stderr, result.stdout) == (
        0, b'', f'download: s3://{bucket}/big.bin to '
        f'{os.path.relpath("/dev/null")}\n'.encode())
    after = os.lstat('/dev/null')
    assert stat.S_ISCHR(after.st_mode)
    assert after.st_rdev == DEV_NULL_DEVICE
    assert [name for name in os.listdir('/dev')
            if name.startswith('null.')] == []
    assert stream_leftovers(stream_env.temp) == []


@pytest.mark.parametrize('dest', ['/dev/stdout', '/dev/fd/1'])
def test_stdout_named_as_a_file_gets_the_bytes(dest, stream_env, s3_server,
                                               bucket, big):
    """With stdout a pipe, ``/dev/stdout`` names that pipe (a FIFO)."""
    result = aws_s3('ppcp', stream_env, s3_server.endpoint_url,
                    f's3://{bucket}/big.bin', dest, '--quiet')
    assert (result.returncode, result.stderr) == (0, b'')
    assert result.stdout == big
    assert os.path.islink('/dev/stdout')
    assert stream_leftovers(stream_env.temp) == []


def test_a_recursive_download_into_a_directory_is_unchanged(
        stream_env, s3_server, s3_client, bucket, big, tmp_path):
    s3_client.put_object(Bucket=bucket, Key='sub/small.txt', Body=b'small')
    out = tmp_path / 'out'
    out.mkdir()
    result = aws_s3('ppcp', stream_env, s3_server.endpoint_url,
                    f's3://{bucket}/', f'{out}/', '--recursive', '--quiet')
    assert (result.returncode, result.stderr) == (0, b'')
    assert (out / 'big.bin').read_bytes() == big
    assert (out / 'sub' / 'small.txt').read_bytes() == b'small'
    assert sorted(os.listdir(out)) == ['big.bin', 'sub']
    assert stat.S_ISREG(os.lstat(out / 'big.bin').st_mode)


@pytest.mark.faults
@pytest.mark.parametrize('signal_number', [signal.SIGINT, signal.SIGTERM],
                         ids=['ctrl-c', 'SIGTERM'])
def test_a_fifo_nobody_reads_does_not_hold_off_a_signal(
        signal_number, stream_env, fault_proxy, bucket, big, tmp_path):
    """``ppcp s3://b/k fifo`` waits for a reader, as cp does; Ctrl-C or a
    SIGTERM still ends it as they end any download, with the FIFO and
    nothing else left."""
    fifo = tmp_path / 'fifo'
    os.mkfifo(fifo)
    ppcp = Ppcp([f's3://{bucket}/big.bin', fifo], tmp_path, stream_env,
                fault_proxy.endpoint_url)
    try:
        ppcp.wait_for_children(['ppcp-monitor', 'ppcp-submitter'],
                               at_least=True)
        # The listing's HeadObject, then the stream's: next it opens the
        # FIFO (and no range is asked for before a reader comes).
        wait_until(lambda: len(fault_proxy.find_requests(
            method='HEAD', key='big.bin')) == 2, 60,
            'the stream never asked for the object')
        # To the process group, as a terminal sends Ctrl-C.
        os.killpg(ppcp.pid, signal_number)
        returncode = ppcp.wait(60)
        wait_until(lambda: all_gone(ppcp.children), 60,
                   'children still running')
    finally:
        ppcp.stop()
    if signal_number == signal.SIGINT:
        assert (returncode, ppcp.stderr_lines) == (
            1, ['cancelled: ctrl-c received'])
    else:
        assert returncode == 128 + signal.SIGTERM
    assert fault_proxy.find_requests(method='GET', key='big.bin') == []
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(os.listdir(tmp_path)) == sorted(['aws', 'tmp', 'fifo'])
    assert stream_leftovers(stream_env.temp) == []
