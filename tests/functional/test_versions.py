"""``aws s3 ppcp s3://b/k DEST --version-id ID`` (tracker issue 25): what
``aws s3api get-object --version-id ID`` fetches, with cp's result line and
exit codes, against moto's server with versioning enabled, through the
installed ``aws``."""
import re
import subprocess

import pytest

from tests.helpers import file_sha256, files_under, output_lines, sha256
from tests.s3server import AWS_SCRIPT, run_aws

MiB = 1024 * 1024


@pytest.fixture
def versions(s3_client, bucket):
    """A versioned bucket's key ``k``: ``old`` (12 MiB and a bit: three
    parts of 5 MiB), ``small`` (small), a delete marker, then ``latest``;
    each a ``(version id, body)`` but the marker, a version id."""
    s3_client.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={'Status': 'Enabled'})
    made = {}
    for name, body in (('old', bytes(range(256)) * (48 * 1024) + b'x' * 77),
                       ('small', b'a small version\n')):
        made[name] = (s3_client.put_object(Bucket=bucket, Key='k',
                                           Body=body)['VersionId'], body)
    made['marker'] = s3_client.delete_object(Bucket=bucket,
                                             Key='k')['VersionId']
    body = b'the latest version\n'
    made['latest'] = (s3_client.put_object(Bucket=bucket, Key='k',
                                           Body=body)['VersionId'], body)
    return made


@pytest.fixture
def parts_env(aws_env):
    aws_env.set_config('s3', {'multipart_threshold': '5MB',
                              'multipart_chunksize': '5MB'})
    return aws_env


@pytest.fixture
def aws(parts_env, s3_server, tmp_path):
    """``aws(*args)``: ``aws ARGS --endpoint-url <moto>`` run in an empty
    directory (``aws.cwd``), its ``CompletedProcess``."""
    cwd = tmp_path / 'work'
    cwd.mkdir()

    def run(*args, endpoint_url=None):
        return run_aws([*args, '--endpoint-url',
                        endpoint_url or s3_server.endpoint_url],
                       env=parts_env, cwd=cwd)
    run.cwd = cwd
    return run


@pytest.mark.parametrize('name', ['small', 'latest'])
def test_a_version_is_what_s3api_get_object_fetches(name, aws, bucket,
                                                    versions):
    version_id, body = versions[name]
    s3api = aws('s3api', 'get-object', '--bucket', bucket, '--key', 'k',
                '--version-id', version_id, 's3api-copy')
    assert s3api.returncode == 0, s3api.stderr
    result = aws('s3', 'ppcp', f's3://{bucket}/k', 'out',
                 '--version-id', version_id)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ''
    assert output_lines(result.stdout)[-1] == (
        f'download: s3://{bucket}/k to ./out')
    assert (aws.cwd / 'out').read_bytes() == body
    assert (aws.cwd / 's3api-copy').read_bytes() == body
    assert files_under(aws.cwd) == {'out', 's3api-copy'}


def test_a_large_version_is_fetched_in_parts_of_that_version(
        aws, bucket, versions, s3_client, fault_proxy):
    """The listing's HeadObject asks for the version (its size and ETag,
    not the latest's), and so does every ranged GET, with ``IfMatch`` of
    that version's ETag."""
    version_id, body = versions['old']
    etag = s3_client.head_object(Bucket=bucket, Key='k',
                                 VersionId=version_id)['ETag']
    result = aws('s3', 'ppcp', f's3://{bucket}/k', 'old.bin',
                 '--version-id', version_id,
                 endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    assert output_lines(result.stdout)[-1] == (
        f'download: s3://{bucket}/k to ./old.bin')
    assert file_sha256(aws.cwd / 'old.bin') == sha256(body)
    assert files_under(aws.cwd) == {'old.bin'}
    heads = fault_proxy.find_requests(method='HEAD')
    gets = fault_proxy.find_requests(method='GET')
    assert [r.params.get('versionId') for r in heads] == [[version_id]]
    assert sorted(r.range for r in gets) == [
        (0, 5 * MiB - 1), (5 * MiB, 10 * MiB - 1),
        (10 * MiB, len(body) - 1)]
    assert {r.params['versionId'][0] for r in gets} == {version_id}
    assert {r.headers['If-Match'] for r in gets} == {etag}


@pytest.mark.parametrize('name', ['small', 'old'])
def test_a_version_to_stdout(name, parts_env, s3_server, bucket, versions,
                             tmp_path):
    """A stream's HeadObject and its ranges ask for the version too."""
    version_id, body = versions[name]
    parts_env['TMPDIR'] = str(tmp_path)
    result = subprocess.run(
        [AWS_SCRIPT, 's3', 'ppcp', f's3://{bucket}/k', '-', '--version-id',
         version_id, '--endpoint-url', s3_server.endpoint_url],
        env=parts_env, stdin=subprocess.DEVNULL, capture_output=True,
        timeout=120)
    assert (result.returncode, result.stderr) == (0, b'')
    assert sha256(result.stdout) == sha256(body)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['aws']


def test_a_missing_version_to_stdout_fails_as_cps_stream_of_a_missing_key(
        parts_env, s3_server, bucket, versions):
    """The stream's own HeadObject (the engine's, as ``aws s3 cp``'s
    stream makes its own) reports S3's bare words: ``aws s3 cp s3://b/nokey
    -`` prints the same line for a missing key."""
    result = subprocess.run(
        [AWS_SCRIPT, 's3', 'ppcp', f's3://{bucket}/k', '-', '--version-id',
         'no-such-version', '--endpoint-url', s3_server.endpoint_url],
        env=parts_env, stdin=subprocess.DEVNULL, capture_output=True,
        timeout=120)
    assert (result.returncode, result.stdout) == (1, b'')
    assert output_lines(result.stderr.decode()) == [
        f'download failed: s3://{bucket}/k to - An error occurred (404) '
        'when calling the HeadObject operation: Not Found']


def test_a_delete_marker_is_named_as_one(aws, bucket, versions):
    """S3 answers a HeadObject of a delete marker's version with 405 (and
    ``x-amz-delete-marker: true``); ``aws s3api head-object`` prints
    ``Method Not Allowed``."""
    marker = versions['marker']
    s3api = aws('s3api', 'head-object', '--bucket', bucket, '--key', 'k',
                '--version-id', marker)
    assert (s3api.returncode, s3api.stderr.strip()) == (
        255, 'An error occurred (405) when calling the HeadObject '
        'operation: Method Not Allowed')
    result = aws('s3', 'ppcp', f's3://{bucket}/k', 'out',
                 '--version-id', marker)
    assert (result.returncode, result.stdout) == (1, '')
    assert output_lines(result.stderr) == [
        'fatal error: An error occurred (405) when calling the HeadObject '
        f'operation: Version "{marker}" of key "k" is a delete marker']
    assert files_under(aws.cwd) == set()


@pytest.mark.parametrize('key', ['k', 'no-such-key'])
def test_a_missing_version_is_a_404_that_names_it(key, aws, bucket,
                                                  versions):
    """As cp's 'Key "k" does not exist' for a missing key, which it would
    also say of a key that exists without that version."""
    version_id = versions['old'][0] if key != 'k' else 'no-such-version'
    result = aws('s3', 'ppcp', f's3://{bucket}/{key}', 'out',
                 '--version-id', version_id)
    assert (result.returncode, result.stdout) == (1, '')
    assert output_lines(result.stderr) == [
        'fatal error: An error occurred (404) when calling the HeadObject '
        f'operation: Version "{version_id}" of key "{key}" does not exist']
    assert files_under(aws.cwd) == set()


def test_a_missing_bucket_is_still_named(aws):
    result = aws('s3', 'ppcp', 's3://ppcp-no-such-bucket/k', 'out',
                 '--version-id', 'v1')
    assert (result.returncode, result.stdout) == (1, '')
    assert output_lines(result.stderr) == [
        'fatal error: An error occurred (NoSuchBucket) when calling the '
        'HeadObject operation: The specified bucket does not exist']


@pytest.mark.parametrize('args, message', [
    (['--recursive'], '--version-id downloads one version of one object: '
                      'it cannot be used with --recursive.'),
    (['--recursive', '--dryrun'], '--version-id downloads one version of '
                                  'one object: it cannot be used with '
                                  '--recursive.'),
    (['--dryrun'], '--version-id downloads one version of one object: it '
                   "needs the object's key (s3://bucket/key)."),
], ids=['recursive', 'recursive-dryrun', 'no-key'])
def test_a_version_of_many_objects_is_refused(args, message, aws, bucket,
                                              versions):
    """Without a key ``aws s3 cp s3://bucket/ out`` downloads nothing and
    exits 0; with a version, that is refused."""
    result = aws('s3', 'ppcp', f's3://{bucket}/', 'out', '--version-id',
                 versions['old'][0], *args)
    assert (result.returncode, result.stdout) == (255, '')
    assert output_lines(result.stderr) == [message]
    assert files_under(aws.cwd) == set()


def test_an_empty_version_is_refused(aws, bucket, versions):
    result = aws('s3', 'ppcp', f's3://{bucket}/k', 'out', '--version-id', '')
    assert (result.returncode, result.stdout) == (255, '')
    assert output_lines(result.stderr) == ['--version-id must not be empty.']
    assert files_under(aws.cwd) == set()


def test_a_dry_run_of_a_version(aws, bucket, versions):
    result = aws('s3', 'ppcp', f's3://{bucket}/k', 'out', '--dryrun',
                 '--version-id', versions['old'][0])
    assert (result.returncode, result.stderr) == (0, '')
    assert output_lines(result.stdout) == [
        f'(dryrun) download: s3://{bucket}/k to ./out']
    assert files_under(aws.cwd) == set()


def test_help_shows_the_version_id(aws_env, tmp_path):
    result = run_aws(['s3', 'ppcp', 'help'], env=dict(aws_env, PAGER='cat'),
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = re.sub('.\b', '', result.stdout)  # groff's overstrike bold
    assert '[--version-id <value>]' in text
    options = text[text.index('OPTIONS'):]
    assert '--version-id (string)' in options
    assert 'aws s3api get-object --version-id' in options
