"""``--case-conflict`` on a recursive download, compared with ``aws s3 cp``
run the same way against the same moto server."""
import os

import pytest

from tests.helpers import files_under
from tests.s3server import run_aws

CONFLICTING_KEYS = ('A.txt', 'a.txt', 'B/x.txt', 'b/x.txt')
# The race the error path had (children stopped while one was starting, or
# while their last reports came in) showed in about a third of the runs.
RUNS = 12


def directories_under(directory):
    return {os.path.relpath(os.path.join(root, name), directory)
            for root, names, _ in os.walk(directory) for name in names}


def download(command, aws_env, s3_server, bucket, cwd, *args):
    cwd.mkdir()
    return run_aws(['s3', command, f's3://{bucket}/', 'out', '--recursive',
                    *args, '--endpoint-url', s3_server.endpoint_url],
                   aws_env, timeout=60, cwd=cwd)


@pytest.mark.slow
def test_an_error_on_conflict_ends_the_download_as_cp_does_every_time(
        aws_env, s3_server, s3_client, bucket, tmp_path):
    for key in CONFLICTING_KEYS:
        s3_client.put_object(Bucket=bucket, Key=key, Body=key.encode())
    cp = download('cp', aws_env, s3_server, bucket, tmp_path / 'cp',
                  '--case-conflict', 'error')
    fatal_line = (
        f'fatal error: Failed to download {bucket}/a.txt -> '
        f'{tmp_path}/{{}}/out/a.txt because a file whose name differs only '
        'by case either exists or is being downloaded.\n')
    assert (cp.returncode, cp.stderr) == (1, fatal_line.format('cp'))
    for run in range(RUNS):
        name = f'ppcp{run}'
        ppcp = download('ppcp', aws_env, s3_server, bucket, tmp_path / name,
                        '--case-conflict', 'error')
        assert (ppcp.returncode, ppcp.stderr) == (
            1, fatal_line.format(name)), f'run {run}'
        out = tmp_path / name / 'out'
        # Nothing written, no temp file; at most the directory of the
        # download that was in flight, as cp leaves it.
        assert files_under(out) == set(), f'run {run}'
        assert directories_under(out) <= {'B'}, f'run {run}'


def symlink_outcome(command, aws_env, s3_server, bucket, cwd, target, mode):
    """Download next to ``out/A.txt``, a symlink to ``target``: what the
    command printed and returned, and what became of the link."""
    (cwd / 'out').mkdir(parents=True)
    (cwd / 'target').write_bytes(b'the link target')
    os.symlink(target, cwd / 'out' / 'A.txt')
    result = run_aws(['s3', command, f's3://{bucket}/', 'out', '--recursive',
                      '--case-conflict', mode, '--no-follow-symlinks',
                      '--endpoint-url', s3_server.endpoint_url],
                     aws_env, timeout=60, cwd=cwd)
    link = cwd / 'out' / 'A.txt'
    return (result.returncode, result.stderr.replace(str(cwd), '<cwd>'),
            os.path.islink(link),
            link.read_bytes() if link.exists() else None,
            (cwd / 'target').read_bytes(), files_under(cwd / 'out'))


@pytest.mark.parametrize('target', ['../target', '../missing'],
                         ids=['live-link', 'dangling-link'])
@pytest.mark.parametrize('mode', ['error', 'skip'])
def test_no_follow_symlinks_leaves_links_out_of_the_check_as_cp_does(
        aws_env, s3_server, s3_client, bucket, tmp_path, target, mode):
    """cp's local listing skips the link: a dangling one is no warning (exit
    0, A.txt downloaded), a live one is an existing file the download would
    replace (``error``: exit 1, nothing replaced; ``skip``: a warning)."""
    for key in ('A.txt', 'c.txt'):
        s3_client.put_object(Bucket=bucket, Key=key, Body=key.encode())
    cp = symlink_outcome('cp', aws_env, s3_server, bucket, tmp_path / 'cp',
                         target, mode)
    ppcp = symlink_outcome('ppcp', aws_env, s3_server, bucket,
                           tmp_path / 'ppcp', target, mode)
    assert ppcp == cp
    if target == '../missing':
        assert cp[:4] == (0, '', False, b'A.txt')
    else:
        assert cp[2:4] == (True, b'the link target')
