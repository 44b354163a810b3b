"""The engine as a library, under every start method, against moto."""
import multiprocessing
import os
import pathlib
import subprocess
import sys
import textwrap

import awscli
import pytest

from awscli_ppdl.processpool import (
    ProcessPoolDownloader, ProcessTransferConfig)
from tests.helpers import assert_no_temp_files, file_sha256, sha256
from tests.s3server import TEST_ACCESS_KEY, TEST_SECRET_KEY, TEST_REGION

REPO_ROOT = pathlib.Path(__file__).parents[2]
# None: the default, forked first children and lean later workers.
START_METHODS = ['fork', 'forkserver', 'spawn', None]
VENDORED_BOTOCORE = os.path.join(os.path.dirname(awscli.__file__),
                                 'botocore', '__init__.py')


FRESH_CHILD = textwrap.dedent('''\
    import concurrent.futures, multiprocessing, sys
    from tests.spawnprobe import botocore_file_after_importing

    if __name__ == '__main__':
        context = multiprocessing.get_context(sys.argv[1])
        with concurrent.futures.ProcessPoolExecutor(
                1, mp_context=context) as executor:
            print(executor.submit(botocore_file_after_importing,
                                  sys.argv[2]).result())
''')


def botocore_of_a_fresh_child(method, first_import, tmp_path):
    """In a new interpreter: a fork server that this test process started
    earlier would have the worker's modules preloaded already."""
    script = tmp_path / 'fresh_child.py'
    script.write_text(FRESH_CHILD)
    result = subprocess.run(
        [sys.executable, str(script), method, first_import],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize('method', ['forkserver', 'spawn'])
def test_fresh_child_lands_on_the_vendored_botocore(method, tmp_path):
    ours = botocore_of_a_fresh_child(method, 'awscli_ppdl.worker', tmp_path)
    # The control: a child that imports botocore first gets another copy
    # (the standalone one that moto's boto3 installs), so the assertion
    # above is about the plugin's import order, not luck.
    control = botocore_of_a_fresh_child(method, 'json', tmp_path)
    assert ours == VENDORED_BOTOCORE
    assert control != VENDORED_BOTOCORE


@pytest.mark.parametrize('method', START_METHODS)
def test_downloads_under_each_start_method(method, s3_server, s3_client,
                                           bucket, tmp_path):
    bodies = {'small': b'small object', 'empty': b'',
              'multi': os.urandom(3 * 1024 * 1024 + 7)}
    for key, body in bodies.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    config = ProcessTransferConfig(
        multipart_threshold=1024 * 1024, multipart_chunksize=1024 * 1024,
        max_request_processes=2, max_concurrent_requests=5,
        start_method=method)
    client_kwargs = dict(
        region_name=TEST_REGION, endpoint_url=s3_server.endpoint_url,
        aws_access_key_id=TEST_ACCESS_KEY,
        aws_secret_access_key=TEST_SECRET_KEY)

    with ProcessPoolDownloader(client_kwargs=client_kwargs,
                               config=config) as downloader:
        futures = {key: downloader.download_file(bucket, key,
                                                 str(tmp_path / key))
                   for key in bodies}
        missing = downloader.download_file(bucket, 'missing',
                                           str(tmp_path / 'missing'))

    for key, future in futures.items():
        assert future.done()
        future.result()
        assert file_sha256(tmp_path / key) == sha256(bodies[key])
    with pytest.raises(Exception) as error:
        missing.result()
    assert '404' in str(error.value)
    assert not (tmp_path / 'missing').exists()
    assert_no_temp_files(tmp_path)
    assert multiprocessing.active_children() == []
