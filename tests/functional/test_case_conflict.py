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
