"""``aws s3 ppcp s3://b/prefix/ DIR --files-from LIST`` (issue 25): exactly
the objects a list names, laid out as ``--recursive`` lays them out, with
no ListObjects and no HeadObject (requests counted at the fault proxy),
through the real CLI driver against moto."""
import datetime
import io
import os
import sys

import pytest

from tests.helpers import (
    assert_no_temp_files, file_sha256, files_under, output_lines, sha256)

MiB = 1024 * 1024


def write_list(path, *lines, ending=b'\n'):
    path.write_bytes(b''.join(
        (line if isinstance(line, bytes) else line.encode()) + ending
        for line in lines))
    return path


def listings(proxy):
    """The proxy's ListObjects (any GET of a bucket, not of a key)."""
    return [r for r in proxy.find_requests(method='GET')
            if r.key_path.strip('/').count('/') == 0]


@pytest.fixture
def objects(s3_client, bucket):
    """``data/`` with a few objects, and one outside it."""
    bodies = {'data/a.txt': b'a\n', 'data/sub/b.txt': b'bb\n',
              'data/sub/c.log': b'ccc\n', 'data/empty': b'',
              'data/#hash': b'hash\n', 'other/x.txt': b'x\n'}
    for key, body in bodies.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    return bodies


def test_listed_keys_and_uris_are_downloaded_as_recursive_lays_them_out(
        ppcp, bucket, objects, workdir, fault_proxy):
    keys = write_list(workdir.parent / 'keys.txt',
                      '# comment', '', 'a.txt', f's3://{bucket}/data/sub/b.txt',
                      'empty', f's3://{bucket}/data/#hash')
    result = ppcp(f's3://{bucket}/data/', 'out', '--files-from', keys, '--no-progress',
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result
    assert sorted(output_lines(result.stdout)) == sorted(
        f'download: s3://{bucket}/data/{key} to out/{key}'
        for key in ('a.txt', 'sub/b.txt', 'empty', '#hash'))
    assert files_under(workdir) == {'out/a.txt', 'out/sub/b.txt', 'out/empty',
                                    'out/#hash'}
    assert (workdir / 'out/sub/b.txt').read_bytes() == b'bb\n'
    assert (workdir / 'out/empty').read_bytes() == b''
    assert fault_proxy.find_requests(method='HEAD') == []
    assert listings(fault_proxy) == []
