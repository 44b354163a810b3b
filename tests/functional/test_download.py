"""``aws s3 ppcp`` through the real CLI driver against moto's HTTP server."""
import datetime
import os
import re

import pytest

from tests.helpers import (
    assert_no_temp_files, file_sha256, files_under, output_lines, sha256)
from tests.s3server import run_aws

MiB = 1024 * 1024

SMALL_PARTS_CONFIG = """\
[default]
region = us-east-1
s3 =
  multipart_threshold = 5MB
  multipart_chunksize = 5MB
[plugins]
ppcp = awscli_ppdl
"""


def test_small_object_to_file(ppcp, s3_client, bucket, workdir):
    body = b'hello from ppcp\n' * 100
    s3_client.put_object(Bucket=bucket, Key='dir/hello.txt', Body=body)
    result = ppcp(f's3://{bucket}/dir/hello.txt', 'out/hello.txt')
    assert result.returncode == 0, result.stderr
    assert output_lines(result.stdout)[-1] == (
        f'download: s3://{bucket}/dir/hello.txt to out/hello.txt')
    assert result.stderr == ''
    assert file_sha256(workdir / 'out/hello.txt') == sha256(body)
    assert files_under(workdir / 'out') == {'hello.txt'}


def test_mtime_is_the_objects_last_modified(ppcp, s3_client, bucket, workdir):
    s3_client.put_object(Bucket=bucket, Key='k', Body=b'x')
    last_modified = s3_client.head_object(Bucket=bucket, Key='k')[
        'LastModified']
    os.utime(workdir, (0, 0))
    assert ppcp(f's3://{bucket}/k', 'k').returncode == 0
    mtime = datetime.datetime.fromtimestamp(
        os.stat(workdir / 'k').st_mtime, datetime.timezone.utc)
    assert mtime == last_modified


def test_existing_directory_as_destination(ppcp, s3_client, bucket, workdir):
    s3_client.put_object(Bucket=bucket, Key='a/b.bin', Body=b'123')
    (workdir / 'target').mkdir()
    result = ppcp(f's3://{bucket}/a/b.bin', 'target/')
    assert result.returncode == 0, result.stderr
    assert (workdir / 'target' / 'b.bin').read_bytes() == b'123'


def test_empty_object(ppcp, s3_client, bucket, workdir):
    s3_client.put_object(Bucket=bucket, Key='empty', Body=b'')
    result = ppcp(f's3://{bucket}/empty', 'empty')
    assert result.returncode == 0, result.stderr
    assert (workdir / 'empty').read_bytes() == b''
    assert_no_temp_files(workdir)


def test_multipart_object_with_short_last_part(
        ppcp, cli_env, s3_client, bucket, workdir, fault_proxy):
    with open(cli_env.config_file, 'w') as f:
        f.write(SMALL_PARTS_CONFIG)
    body = os.urandom(12 * MiB + 12345)
    s3_client.put_object(Bucket=bucket, Key='big.bin', Body=body)
    etag = s3_client.head_object(Bucket=bucket, Key='big.bin')['ETag']

    result = ppcp(f's3://{bucket}/big.bin', 'big.bin',
                  endpoint_url=fault_proxy.endpoint_url)

    assert result.returncode == 0, result.stderr
    assert file_sha256(workdir / 'big.bin') == sha256(body)
    ranged = fault_proxy.find_requests(method='GET', key='big.bin',
                                       has_range=True)
    assert sorted(r.range for r in ranged) == [
        (0, 5 * MiB - 1), (5 * MiB, 10 * MiB - 1),
        (10 * MiB, 12 * MiB + 12344)]
    assert {r.headers['If-Match'] for r in ranged} == {etag}
    assert_no_temp_files(workdir)


def test_recursive_prefix_with_include_exclude(
        ppcp, s3_client, bucket, workdir, fault_proxy):
    keys = {}
    for i in range(300):
        ext = ('log', 'txt', 'csv')[i % 3]
        key = f'data/{i % 7}/file-{i:03d}.{ext}'
        keys[key] = f'{key}\n'.encode() * (i + 1)
        s3_client.put_object(Bucket=bucket, Key=key, Body=keys[key])
    s3_client.put_object(Bucket=bucket, Key='other/ignored.txt', Body=b'no')

    result = ppcp(f's3://{bucket}/data/', 'out', '--recursive',
                  '--exclude', '*', '--include', '*.txt', '--include',
                  '*.csv', '--exclude', '3/*',
                  endpoint_url=fault_proxy.endpoint_url)

    assert result.returncode == 0, result.stderr
    expected = {k[len('data/'):]: v for k, v in keys.items()
                if not k.endswith('.log') and not k.startswith('data/3/')}
    assert 150 < len(expected) < 200
    assert files_under(workdir / 'out') == set(expected)
    for relative, body in expected.items():
        assert file_sha256(workdir / 'out' / relative) == sha256(body)
    lines = [ln for ln in output_lines(result.stdout)
             if ln.startswith('download:')]
    assert sorted(lines) == sorted(
        f'download: s3://{bucket}/data/{rel} to out/{rel}'
        for rel in expected)
    # Sizes come from the listing: not one HeadObject per object.
    assert fault_proxy.find_requests(method='HEAD') == []


def test_dryrun_downloads_nothing(ppcp, s3_client, bucket, workdir):
    for key in ('p/a', 'p/b'):
        s3_client.put_object(Bucket=bucket, Key=key, Body=b'data')
    result = ppcp(f's3://{bucket}/p/', 'out', '--recursive', '--dryrun')
    assert result.returncode == 0, result.stderr
    assert sorted(output_lines(result.stdout)) == [
        f'(dryrun) download: s3://{bucket}/p/a to out/a',
        f'(dryrun) download: s3://{bucket}/p/b to out/b',
    ]
    assert files_under(workdir) == set()


def test_quiet_prints_nothing(ppcp, s3_client, bucket, workdir):
    s3_client.put_object(Bucket=bucket, Key='q', Body=b'data')
    result = ppcp(f's3://{bucket}/q', 'q', '--quiet')
    assert (result.returncode, result.stdout, result.stderr) == (0, '', '')
    assert (workdir / 'q').read_bytes() == b'data'


def test_missing_key_is_a_clear_404(ppcp, bucket, workdir):
    result = ppcp(f's3://{bucket}/no/such/key', 'out')
    assert result.returncode == 1
    assert output_lines(result.stderr) == [
        'fatal error: An error occurred (404) when calling the HeadObject '
        'operation: Key "no/such/key" does not exist']
    assert files_under(workdir) == set()


@pytest.mark.parametrize('args, message', [
    (['local-file', 's3://bucket/key'], 'aws s3 ppcp only downloads'),
    (['s3://bucket/a', 's3://bucket/b'], 'aws s3 ppcp only downloads'),
    (['s3://bucket/key', 'out', '--processes', '0'],
     '--processes must be a positive integer'),
])
def test_bad_input_is_a_one_line_error(ppcp, workdir, args, message):
    result = ppcp(*args)
    assert result.returncode == 255
    lines = output_lines(result.stderr)
    assert len(lines) == 1 and message in lines[0]
    assert 'Traceback' not in result.stderr
    assert files_under(workdir) == set()


def test_a_missing_argument_is_a_usage_error_with_exit_code_2(aws_env,
                                                              tmp_path):
    """As the README says, and as aws s3 cp gives: argparse's own exit."""
    result = run_aws(['s3', 'ppcp', 's3://bucket/key'], env=aws_env,
                     cwd=tmp_path)
    assert result.returncode == 2
    assert output_lines(result.stderr)[-1] == (
        'aws: error: the following arguments are required: paths')
    assert files_under(tmp_path) == {'aws/aws_config', 'aws/aws_credentials'}


def test_unknown_flag(ppcp, workdir):
    result = ppcp('s3://bucket/key', 'out', '--no-such-flag')
    assert result.returncode == 255
    assert 'Unknown options: --no-such-flag' in result.stderr


def test_processes_flag_limits_workers(ppcp, s3_client, bucket, workdir):
    for i in range(20):
        s3_client.put_object(Bucket=bucket, Key=f'p/{i}', Body=b'%d' % i)
    result = ppcp(f's3://{bucket}/p/', 'out', '--recursive',
                  '--processes', '2')
    assert result.returncode == 0, result.stderr
    assert files_under(workdir / 'out') == {str(i) for i in range(20)}


def test_real_aws_subprocess_with_plugin_config(
        aws_env, s3_server, s3_client, bucket, tmp_path):
    """The installed ``aws`` entry point loads the plugin from the config."""
    bodies = {f'sub/{i}.bin': os.urandom(1000 + i) for i in range(5)}
    for key, body in bodies.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    result = run_aws(['s3', 'ppcp', f's3://{bucket}/sub/', 'dest',
                      '--recursive', '--no-progress',
                      '--endpoint-url', s3_server.endpoint_url],
                     env=aws_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == sorted(
        f'download: s3://{bucket}/{key} to dest/{key[4:]}' for key in bodies)
    for key, body in bodies.items():
        assert file_sha256(tmp_path / 'dest' / key[4:]) == sha256(body)


def test_help_is_real_help(aws_env, tmp_path):
    result = run_aws(['s3', 'ppcp', 'help'], env=dict(aws_env, PAGER='cat'),
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = re.sub('.\b', '', result.stdout)  # groff's overstrike bold
    assert 'ppcp' in text and '--processes' in text and '--recursive' in text
    examples = text[text.index('EXAMPLES'):]
    assert 'aws s3 ppcp s3://amzn-s3-demo-bucket/big.iso ./big.iso' in examples
    assert '--recursive --exclude "*.tmp"' in examples


def test_a_file_name_of_255_bytes(ppcp, s3_client, bucket, workdir):
    """As ``aws s3 cp`` writes it: the longest name a file system allows
    leaves no room for the temp suffix, so the temp name is shortened."""
    name = 'n' * 251 + '.bin'
    s3_client.put_object(Bucket=bucket, Key=f'd/{name}', Body=b'long name')
    result = ppcp(f's3://{bucket}/d/{name}', f'out/{name}')
    assert result.returncode == 0, result.stderr
    assert (workdir / 'out' / name).read_bytes() == b'long name'
    assert files_under(workdir / 'out') == {name}
