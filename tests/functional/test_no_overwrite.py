"""``--no-overwrite`` on ``aws s3 ppcp``, as AWS CLI v2 defines it for
``cp``: an existing destination file is left as it is and its object is not
fetched (no GET); v2 prints nothing for it (a DEBUG record only) and the
exit code is not changed. Runs the real ``aws`` through the fault proxy,
which counts the GETs."""
import os

import pytest

from tests.helpers import files_under, output_lines
from tests.s3server import run_aws

OLD_MTIME = 1_000_000_000  # 2001-09-09, far from any LastModified


@pytest.fixture
def work(tmp_path):
    """The directory the commands run in (aws_env's files are beside it)."""
    path = tmp_path / 'work'
    path.mkdir()
    return path


def object_gets(fault_proxy, bucket):
    """GETs of objects (not of listings: those have no key in the path)."""
    return [r for r in fault_proxy.find_requests(method='GET')
            if r.key_path.startswith(f'/{bucket}/')
            and r.key_path != f'/{bucket}/']


def ppcp(aws_env, fault_proxy, cwd, *args):
    return run_aws(['s3', 'ppcp', *args,
                    '--endpoint-url', fault_proxy.endpoint_url],
                   aws_env, timeout=60, cwd=cwd)


def result_lines(stdout):
    """The result lines, without the progress lines."""
    return [line for line in output_lines(stdout)
            if not line.startswith('Completed ')]


def existing_file(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, (OLD_MTIME, OLD_MTIME))


def test_existing_file_is_left_untouched_without_a_get(
        aws_env, fault_proxy, s3_client, bucket, work):
    s3_client.put_object(Bucket=bucket, Key='k', Body=b'remote bytes')
    existing_file(work / 'k', b'local')
    fault_proxy.clear_requests()
    result = ppcp(aws_env, fault_proxy, work, f's3://{bucket}/k', 'k',
                  '--no-overwrite')
    assert (result.returncode, result.stdout, result.stderr) == (0, '', '')
    assert (work / 'k').read_bytes() == b'local'
    assert os.stat(work / 'k').st_mtime == OLD_MTIME
    assert object_gets(fault_proxy, bucket) == []
    assert files_under(work) == {'k'}


def test_missing_file_is_downloaded_as_usual(
        aws_env, fault_proxy, s3_client, bucket, work):
    s3_client.put_object(Bucket=bucket, Key='k', Body=b'remote bytes')
    result = ppcp(aws_env, fault_proxy, work, f's3://{bucket}/k', 'k',
                  '--no-overwrite')
    assert result.returncode == 0, result.stderr
    assert result_lines(result.stdout)[-1] == (
        f'download: s3://{bucket}/k to ./k')
    assert (work / 'k').read_bytes() == b'remote bytes'
    assert len(object_gets(fault_proxy, bucket)) == 1


def test_recursive_downloads_only_the_missing_files(
        aws_env, fault_proxy, s3_client, bucket, work):
    for key in ('a.txt', 'sub/b.txt', 'sub/c.txt', 'd.txt'):
        s3_client.put_object(Bucket=bucket, Key=key,
                             Body=b'remote ' + key.encode())
    existing_file(work / 'out' / 'a.txt', b'local a')
    existing_file(work / 'out' / 'sub' / 'c.txt', b'local c')
    fault_proxy.clear_requests()
    result = ppcp(aws_env, fault_proxy, work, f's3://{bucket}/', 'out',
                  '--recursive', '--no-overwrite')
    assert (result.returncode, result.stderr) == (0, ''), result
    assert set(result_lines(result.stdout)) == {
        f'download: s3://{bucket}/sub/b.txt to out/sub/b.txt',
        f'download: s3://{bucket}/d.txt to out/d.txt'}
    out = work / 'out'
    assert (out / 'a.txt').read_bytes() == b'local a'
    assert (out / 'sub' / 'c.txt').read_bytes() == b'local c'
    assert os.stat(out / 'a.txt').st_mtime == OLD_MTIME
    assert os.stat(out / 'sub' / 'c.txt').st_mtime == OLD_MTIME
    assert (out / 'sub' / 'b.txt').read_bytes() == b'remote sub/b.txt'
    assert (out / 'd.txt').read_bytes() == b'remote d.txt'
    assert sorted(r.key_path for r in object_gets(fault_proxy, bucket)) == [
        f'/{bucket}/d.txt', f'/{bucket}/sub/b.txt']


def test_dry_run_says_nothing_of_an_existing_file(
        aws_env, fault_proxy, s3_client, bucket, work):
    # v2 checks before the dry run: a skipped file has no (dryrun) line.
    for key in ('a', 'b'):
        s3_client.put_object(Bucket=bucket, Key=key, Body=b'x')
    existing_file(work / 'out' / 'a', b'local')
    result = ppcp(aws_env, fault_proxy, work, f's3://{bucket}/', 'out',
                  '--recursive', '--no-overwrite', '--dryrun')
    assert (result.returncode, result.stderr) == (0, '')
    assert result_lines(result.stdout) == [
        f'(dryrun) download: s3://{bucket}/b to out/b']
    assert files_under(work / 'out') == {'a'}


def test_refused_for_a_stream(aws_env, fault_proxy, s3_client, bucket,
                              work):
    s3_client.put_object(Bucket=bucket, Key='k', Body=b'x')
    result = ppcp(aws_env, fault_proxy, work, f's3://{bucket}/k', '-',
                  '--no-overwrite')
    assert result.returncode == 255
    assert result.stdout == ''
    assert output_lines(result.stderr) == [
        '--no-overwrite parameter is not supported for streaming downloads']
    assert 'Traceback' not in result.stderr
    assert object_gets(fault_proxy, bucket) == []
