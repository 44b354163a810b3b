"""What ``aws s3 cp`` refuses or fails on before any byte moves, ``aws s3
ppcp`` refuses or fails on with the same exit code and the same stderr: both
commands run through the real CLI driver against moto."""
import pytest
from awscli.clidriver import create_clidriver

from tests.helpers import files_under

KEY = 'a' * 32


@pytest.fixture
def s3_command(cli_env, s3_server, capsys, workdir):
    """Run ``aws s3 COMMAND ARGS`` and return (exit code, stdout, stderr)."""
    def run(command, *args):
        capsys.readouterr()
        returncode = create_clidriver().main(
            ['s3', command, *args, '--endpoint-url', s3_server.endpoint_url])
        out, err = capsys.readouterr()
        return returncode, out, err
    return run


@pytest.mark.parametrize('args', [
    ('--checksum-algorithm', 'CRC32'),
    ('--sse-c-copy-source', 'AES256'),
    ('--sse-c-copy-source-key', KEY),
    ('--sse-c-copy-source', 'AES256', '--sse-c-copy-source-key', KEY),
    ('--sse-c', 'AES256'),
], ids=['checksum-algorithm', 'copy-source-without-key',
        'copy-source-key-without-sse', 'copy-source', 'sse-c-without-key'])
def test_upload_and_copy_arguments_are_refused_as_cp_refuses_them(
        args, s3_command, s3_client, bucket, workdir):
    s3_client.put_object(Bucket=bucket, Key='k', Body=b'data')
    cp = s3_command('cp', f's3://{bucket}/k', 'out', *args)
    assert cp[0] == 255 and cp[2].strip(), cp
    assert s3_command('ppcp', f's3://{bucket}/k', 'out', *args) == cp
    assert files_under(workdir) == set()


@pytest.mark.parametrize('source', [
    's3://', 's3:///key', 's3://bad!name/key', 's3://bad!name'],
    ids=['no-bucket', 'empty-bucket', 'invalid-name', 'invalid-name-only'])
def test_an_invalid_bucket_fails_as_cps_parameter_validation(
        source, s3_command, workdir):
    cp = s3_command('cp', source, 'out', '--recursive')
    single = s3_command('cp', source, 'out')
    for result in (cp, single):
        assert result[0] == 1
        assert result[2].startswith(
            'fatal error: Parameter validation failed:\nInvalid bucket name')
    assert s3_command('ppcp', source, 'out', '--recursive') == cp
    assert s3_command('ppcp', source, 'out') == single
    assert files_under(workdir) == set()


def test_a_missing_bucket_is_named_at_the_cost_of_one_request_on_failure(
        s3_command, s3_client, bucket, workdir, fault_proxy):
    """cp says 'Key "k" does not exist' (a HeadObject 404 has no body);
    ppcp asks HeadBucket after that 404, and only then, so a download that
    succeeds makes no request cp does not make."""
    s3_client.put_object(Bucket=bucket, Key='k', Body=b'data')
    cp = s3_command('cp', 's3://ppcp-no-such-bucket/k', 'out')
    ppcp = s3_command('ppcp', 's3://ppcp-no-such-bucket/k', 'out')
    assert cp == (1, '', 'fatal error: An error occurred (404) when calling '
                  'the HeadObject operation: Key "k" does not exist\n')
    assert ppcp == (1, '', 'fatal error: An error occurred (NoSuchBucket) '
                    'when calling the HeadObject operation: The specified '
                    'bucket does not exist\n')
    returncode = create_clidriver().main(
        ['s3', 'ppcp', f's3://{bucket}/k', 'k', '--quiet',
         '--endpoint-url', fault_proxy.endpoint_url])
    assert returncode == 0
    assert (workdir / 'k').read_bytes() == b'data'
    assert [(r.method, r.path) for r in fault_proxy.requests] == [
        ('HEAD', f'/{bucket}/k'), ('GET', f'/{bucket}/k')]
