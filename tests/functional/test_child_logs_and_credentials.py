"""What a user of ``aws s3 cp`` keeps when the bytes move in other processes:
``--debug`` logs from every process, and credentials that expire during a
long download, refreshed by the parent alone."""
import os
import re
import sys
import textwrap
import time

import pytest

from tests.faults.proxy import Rule
from tests.helpers import file_sha256, files_under, sha256
from tests.s3server import run_aws

MiB = 1024 * 1024

CREDENTIAL_PROCESS = textwrap.dedent('''\
    """Hands out new credentials on every call, each valid for LIFETIME s,
    and records who asked (its parent process) in CALLS."""
    import datetime, json, os, sys
    calls_file, lifetime = sys.argv[1], float(sys.argv[2])
    with open(calls_file, 'a+') as f:
        f.seek(0)
        number = len(f.read().splitlines()) + 1
        f.write(f'{os.getppid()}\\n')
    expiry = (datetime.datetime.now(datetime.timezone.utc)
              + datetime.timedelta(seconds=lifetime))
    print(json.dumps({
        'Version': 1,
        'AccessKeyId': f'AKIDPPCPTEST{number:04d}',
        'SecretAccessKey': 'secret',
        'SessionToken': f'token-{number}',
        'Expiration': expiry.isoformat(),
    }))
''')


def test_debug_shows_the_childrens_logs_tagged_with_their_process(
        aws_env, s3_server, s3_client, bucket, tmp_path):
    s3_client.put_object(Bucket=bucket, Key='k', Body=b'payload')
    args = ['s3', 'ppcp', f's3://{bucket}/k', tmp_path / 'k',
            '--endpoint-url', s3_server.endpoint_url]
    result = run_aws([*args, '--debug'], env=aws_env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / 'k').read_bytes() == b'payload'
    get_lines = [line for line in result.stderr.splitlines()
                 if f'"GET /{bucket}/k HTTP/1.1" 200 7' in line]
    assert len(get_lines) == 1, result.stderr[-3000:]
    # The worker's own HTTP client logs it as urllib3 does for aws s3 cp.
    assert re.match(r'^\S+ \S+ - ppcp-worker-0/ppcp-get-\d+ - '
                    r'awscli_ppdl\.http11 - DEBUG - http://127\.0\.0\.1:\d+ '
                    f'"GET /{bucket}/k HTTP/1.1" 200 7$', get_lines[0])
    # The GET's template was learned in the parent, from a request that
    # botocore built and signed there but did not send.
    assert (' - MainThread - awscli_ppdl.getobject - DEBUG - Learning the '
            f'GetObject request for bucket {bucket} (built, not sent)'
            in result.stderr)
    assert ' - MainThread - awscli_ppdl.pool - DEBUG - Started ' \
        'ppcp-worker-0 (pid ' in result.stderr
    (tmp_path / 'k').unlink()
    quiet = run_aws(args, env=aws_env)
    assert quiet.returncode == 0
    assert quiet.stderr == ''


@pytest.mark.parametrize('processes, lean', [
    ('1', False), ('3', False), ('4', True)])
def test_a_fork_server_is_started_only_for_four_workers_or_more(
        processes, lean, aws_env, s3_server, s3_client, bucket, tmp_path):
    """A recursive download that may use fewer processes forks them all:
    the fork server (~0.25 s of CPU and ~47 MiB to start) is for the
    workers after the first, and pays for itself from three of them."""
    for key in ('a', 'b', 'c'):
        s3_client.put_object(Bucket=bucket, Key=key, Body=key.encode())
    result = run_aws(['s3', 'ppcp', f's3://{bucket}/', tmp_path / 'out',
                      '--recursive', '--processes', processes, '--debug',
                      '--endpoint-url', s3_server.endpoint_url], env=aws_env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert files_under(tmp_path / 'out') == {'a', 'b', 'c'}
    assert 'Started ppcp-worker-0 (pid ' in result.stderr
    assert ('Started the fork server of the workers after the first'
            in result.stderr) is lean


def test_expiring_credentials_are_refreshed_by_the_parent_only(
        aws_env, s3_client, bucket, fault_proxy, tmp_path):
    """Credentials that live 4 s, a download that lasts about 12 s: the
    parent asks ``credential_process`` for new ones every ~2 s, the later
    GETs are signed with them, and no child ever runs it."""
    script = tmp_path / 'credential_process.py'
    script.write_text(CREDENTIAL_PROCESS)
    calls_file = tmp_path / 'calls'
    os.remove(aws_env.credentials_file)
    aws_env.set_config('credential_process',
                       f'{sys.executable} {script} {calls_file} 4')
    aws_env.set_config('s3', {'multipart_threshold': '1MB',
                              'multipart_chunksize': '1MB',
                              'max_concurrent_requests': '2'})
    body = os.urandom(6 * MiB)
    s3_client.put_object(Bucket=bucket, Key='big.bin', Body=body)
    fault_proxy.add_rule(Rule(method='GET', key='big.bin', has_range=True,
                              throttle_bytes_per_second=512 * 1024))

    started = time.monotonic()
    result = run_aws(['s3', 'ppcp', f's3://{bucket}/big.bin',
                      tmp_path / 'out' / 'big.bin', '--processes', '2',
                      '--endpoint-url', fault_proxy.endpoint_url],
                     env=aws_env)
    duration = time.monotonic() - started

    assert result.returncode == 0, result.stderr
    assert file_sha256(tmp_path / 'out' / 'big.bin') == sha256(body)
    callers = calls_file.read_text().split()
    # Every call came from one process: the CLI's, never a child's.
    assert len(set(callers)) == 1
    # At most one call per half-lifetime, plus start-up: credentials this
    # short-lived are refreshed on every use in the CLI's own code (its
    # client, HeadObject, freezing them for the children), ~4 calls.
    assert 3 <= len(callers) <= duration / 2 + 5, (len(callers), duration)
    gets = fault_proxy.find_requests(method='GET', key='big.bin')
    keys_used = {re.search(r'Credential=(\w+)/',
                           r.headers['Authorization']).group(1) for r in gets}
    assert len(gets) == 6
    assert len(keys_used) >= 2, keys_used
    assert files_under(tmp_path / 'out') == {'big.bin'}
