"""A FIFO or a device as the destination (``/dev/null``, ``/dev/stdout`` on a
pipe): written into, in order, as ``aws s3 cp`` writes into it, never
replaced by a renamed temp file; a directory destination is unaffected."""
import os
import stat
import threading

import pytest

from tests.functional.test_streaming_like_cp import (
    BIG, aws_s3, stream_leftovers)

# /dev/null's device number on Linux (mem, minor 3).
DEV_NULL_DEVICE = os.makedev(1, 3)


@pytest.fixture
def big(s3_client, bucket):
    """An object of 4 ranges (with ``stream_env``'s 5 MiB chunks)."""
    body = os.urandom(BIG)
    s3_client.put_object(Bucket=bucket, Key='big.bin', Body=body)
    return body


@pytest.fixture
def dev_null():
    """``/dev/null``, put back as the character device it was if a download
    replaced it (as root, a rename over it succeeds)."""
    before = os.stat('/dev/null')
    assert stat.S_ISCHR(before.st_mode)
    try:
        yield '/dev/null'
    finally:
        after = os.lstat('/dev/null')
        if not stat.S_ISCHR(after.st_mode):
            os.unlink('/dev/null')
            os.mknod('/dev/null', stat.S_IFCHR | 0o666, before.st_rdev)
            os.chmod('/dev/null', 0o666)


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
                                 dev_null, tmp_path, monkeypatch):
    """How downloads are timed: ``aws s3 ppcp s3://b/big /dev/null``."""
    monkeypatch.chdir(tmp_path)
    result = aws_s3(command, stream_env, s3_server.endpoint_url,
                    f's3://{bucket}/big.bin', dev_null, '--no-progress')
    assert (result.returncode, result.stderr, result.stdout) == (
        0, b'', f'download: s3://{bucket}/big.bin to '
        f'{os.path.relpath(dev_null)}\n'.encode())
    after = os.lstat(dev_null)
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
