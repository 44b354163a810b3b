"""The workers' direct GetObject path (awscli_ppdl.getobject), on the wire.

Every plain GET is sent directly, on the template the parent learned for the
bucket (it carries no ``amz-sdk-invocation-id``, a header only botocore's
own send adds). These tests put the fault on a direct GET and expect what
botocore would do: the same requests, retries and messages.
"""
import base64
import hashlib
import os
import urllib.parse

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.faults.proxy import Rule
from tests.helpers import (
    LASTING_S3_ERRORS, credentials_only_in_the_environment, descendant_pids,
    files_under, output_lines, process_name)
from tests.s3server import TEST_ACCESS_KEY, TEST_REGION, TEST_SECRET_KEY

BOTOCORE_ONLY_HEADER = 'amz-sdk-invocation-id'


@pytest.fixture
def objects(s3_client, bucket):
    """'a-first' and 'k'."""
    bodies = {'a-first': os.urandom(3000), 'k': os.urandom(70000)}
    for key, body in bodies.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    return bodies


def one_process(ppcp, bucket, fault_proxy, processes=1):
    return ppcp(f's3://{bucket}/', 'out', '--recursive', '--processes',
                str(processes), endpoint_url=fault_proxy.endpoint_url)


def gets(fault_proxy, key):
    return fault_proxy.find_requests(method='GET', key=f'/{key}')


def direct(requests):
    return [r for r in requests if BOTOCORE_ONLY_HEADER not in r.headers]


def expected_signature(record, host):
    """SigV4 of the recorded request, computed by botocore from scratch."""
    auth_header = record.headers['Authorization']
    signed = auth_header.split('SignedHeaders=')[1].split(',')[0].split(';')
    request = AWSRequest(
        method=record.method, url=f'http://{host}{record.path}',
        headers={name: record.headers[name] for name in signed
                 if name != 'host'})
    request.context['timestamp'] = record.headers['X-Amz-Date']
    auth = S3SigV4Auth(Credentials(TEST_ACCESS_KEY, TEST_SECRET_KEY), 's3',
                       TEST_REGION)
    string_to_sign = auth.string_to_sign(
        request, auth.canonical_request(request))
    return auth.signature(string_to_sign, request)


def assert_all_direct_and_signed_as_botocore_signs(requests, fault_proxy):
    assert direct(requests) == requests
    host = urllib.parse.urlsplit(fault_proxy.endpoint_url).netloc
    for record in requests:
        assert record.headers['Authorization'].endswith(
            f'Signature={expected_signature(record, host)}')


def hold_until_the_others_are_asked_for(fault_proxy, key, others):
    """A proxy rule: the GET of ``key`` waits until every key of ``others``
    has been asked for (by other workers). ``released`` gets, if they were
    within a minute, what started each worker (``workers_parents``)."""
    return fault_proxy.hold_until(
        lambda: all(gets(fault_proxy, other) for other in others),
        workers_parents, method='GET', key=f'/{key}')


def workers_parents():
    """``{worker name: its parent's command line}`` of the running workers
    this test started (not those of another test run on the machine)."""
    parents = {}
    for entry in descendant_pids(os.getpid()):
        try:
            name = process_name(entry)
            if name.startswith('ppcp-worker-'):
                with open(f'/proc/{entry}/stat') as f:
                    ppid = f.read().rsplit(')', 1)[1].split()[1]
                with open(f'/proc/{ppid}/cmdline', 'rb') as f:
                    parents[name] = f.read().replace(b'\0', b' ').decode()
        except OSError:
            continue
    return parents


@pytest.mark.parametrize('processes', [1, 4], ids=['forked', 'lean'])
def test_direct_gets_are_signed_as_botocore_signs(
        processes, ppcp, cli_env, s3_client, bucket, fault_proxy, workdir):
    """With four processes making one GET each, the first worker (forked
    from ``aws``) holds the first GET until the others have been sent by
    the workers from the lean fork server, which sign with the credentials
    they were handed."""
    bodies = {f'dir/{name}': os.urandom(size) for name, size in
              [('a', 10), ('b c+d', 5000), ('é~(1)', 0), ('z', 300000)]}
    for key, body in bodies.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    if processes > 1:
        cli_env.set_config('s3', {'max_concurrent_requests': processes})
        released = hold_until_the_others_are_asked_for(
            fault_proxy, 'dir/a', [k for k in bodies if k != 'dir/a'])
    result = one_process(ppcp, bucket, fault_proxy, processes)
    assert result.returncode == 0, result.stderr
    for key, body in bodies.items():
        assert (workdir / 'out' / key).read_bytes() == body
    if processes > 1:
        [parents] = released
        assert {'ppcp-worker-0', 'ppcp-worker-1'} <= parents.keys()
        assert 'multiprocessing.forkserver' not in parents['ppcp-worker-0']
        for name, parent in parents.items():
            if name != 'ppcp-worker-0':
                assert 'from multiprocessing.forkserver import main' in parent
    requests = gets(fault_proxy, 'dir/')
    assert len(requests) == 4
    assert_all_direct_and_signed_as_botocore_signs(requests, fault_proxy)
    assert {r.headers['User-Agent'] for r in requests} == {
        requests[0].headers['User-Agent']}


@pytest.mark.parametrize('fault, expected_gets, message', [
    *LASTING_S3_ERRORS,
    (dict(status=(404, 'NoSuchKey', 'The specified key does not exist.')),
     1, 'An error occurred (NoSuchKey) when calling the GetObject '
     'operation: The specified key does not exist.'),
])
def test_a_failed_direct_get_is_botocores_first_attempt(
        fault, expected_gets, message, ppcp, objects, bucket, fault_proxy,
        workdir):
    fault_proxy.add_rule(Rule(method='GET', key='/k', **fault))
    result = one_process(ppcp, bucket, fault_proxy)
    assert result.returncode == 1
    [failure] = output_lines(result.stderr)
    assert failure.startswith(f'download failed: s3://{bucket}/k to out/k ')
    assert message in failure
    requests = gets(fault_proxy, 'k')
    assert len(requests) == expected_gets
    assert requests[0] in direct(requests)
    assert files_under(workdir) == {'out/a-first'}


@pytest.mark.parametrize('fault, direct_gets', [
    (dict(status=(503, 'SlowDown', 'Please reduce your request rate.')), 1),
    (dict(status=(500, 'InternalError', 'We encountered an internal error.')),
     1),
    # No response at all: botocore's retry of a connection error.
    (dict(reset_before_response=True), 1),
    # The status line came: the body's failure is the worker's own retry,
    # whichever path sent the request, and the retry is direct again.
    (dict(reset_after_bytes=0), 2),
], ids=['slowdown', 'internal-error', 'no-response', 'reset-in-body'])
def test_a_direct_get_that_fails_once_is_retried(
        fault, direct_gets, ppcp, objects, bucket, fault_proxy, workdir):
    """'k' alone, so that its GET is the worker's first, on a new
    connection: a reused one that ends before any response (as 'a-first's
    could, when it came back to the pool in time) is the pool's own retry
    of a connection the server closed, sent direct again."""
    fault_proxy.add_rule(Rule(method='GET', key='/k', times=1, **fault))
    result = ppcp(f's3://{bucket}/', 'out', '--recursive', '--processes',
                  '1', '--exclude', 'a-first',
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    assert (workdir / 'out' / 'k').read_bytes() == objects['k']
    requests = gets(fault_proxy, 'k')
    assert len(requests) == 2
    assert direct(requests) == requests[:direct_gets]


def test_a_direct_get_checks_the_checksum_as_botocore_does(
        ppcp, objects, s3_client, bucket, fault_proxy, workdir):
    """Without --checksum-mode the CLI's botocore still asks for and checks
    a whole object's checksum (response_checksum_validation=when_supported):
    so does a direct GET."""
    wrong = base64.b64encode(hashlib.sha256(b'other bytes').digest()).decode()
    s3_client.put_object(Bucket=bucket, Key='k', Body=objects['k'],
                         ChecksumAlgorithm='SHA256', ChecksumSHA256=wrong)
    s3_client.put_object(Bucket=bucket, Key='m', Body=b'right',
                         ChecksumAlgorithm='CRC32')
    result = one_process(ppcp, bucket, fault_proxy)
    assert result.returncode == 1
    [failure] = output_lines(result.stderr)
    assert failure.startswith(
        f'download failed: s3://{bucket}/k to out/k Expected checksum '
        f'{wrong} did not match calculated checksum: ')
    assert direct(gets(fault_proxy, 'k')) == gets(fault_proxy, 'k')
    assert (workdir / 'out' / 'm').read_bytes() == b'right'
    assert files_under(workdir) == {'out/a-first', 'out/m'}


@pytest.mark.parametrize('processes', [4, 1],
                         ids=['lean-workers', 'threads-of-one-worker'])
def test_gets_with_other_arguments_go_through_botocore_in_every_worker(
        processes, ppcp, cli_env, s3_client, bucket, fault_proxy, workdir):
    """``--request-payer`` is not a template argument: each worker, the
    lean ones included, builds a botocore client when it first needs one
    and sends every GET through it; the threads of one worker share it,
    four GETs at once."""
    bodies = {f'dir/{name}': os.urandom(size) for name, size in
              [('a', 10), ('b', 5000), ('c', 70000), ('d', 300000)]}
    for key, body in bodies.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    cli_env.set_config('s3', {'max_concurrent_requests': '4'})
    released = hold_until_the_others_are_asked_for(
        fault_proxy, 'dir/a', [k for k in bodies if k != 'dir/a'])
    result = ppcp(f's3://{bucket}/', 'out', '--recursive', '--processes',
                  processes, '--request-payer', 'requester',
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    for key, body in bodies.items():
        assert (workdir / 'out' / key).read_bytes() == body
    [parents] = released
    assert 'ppcp-worker-0' in parents
    if processes == 1:
        assert list(parents) == ['ppcp-worker-0']
    else:
        assert 'ppcp-worker-1' in parents
    for name, parent in parents.items():
        if name != 'ppcp-worker-0':
            assert 'from multiprocessing.forkserver import main' in parent
    requests = gets(fault_proxy, 'dir/')
    assert len(requests) == 4
    assert direct(requests) == []
    assert {r.headers['x-amz-request-payer'] for r in requests} == {
        'requester'}


def test_the_library_without_keys_resolves_credentials_once(
        monkeypatch, s3_client, bucket, fault_proxy, tmp_path):
    """``client_kwargs`` without keys: the parent resolves the credentials
    (from the environment here) as the CLI does, so even each worker's
    first GET is sent from the parent's template, signed with them."""
    from awscli_ppdl.processpool import (
        ProcessPoolDownloader, ProcessTransferConfig)

    credentials_only_in_the_environment(monkeypatch, tmp_path, TEST_ACCESS_KEY,
                                        TEST_SECRET_KEY)
    body = os.urandom(3 * 1024 * 1024 + 5)
    s3_client.put_object(Bucket=bucket, Key='big', Body=body)
    config = ProcessTransferConfig(multipart_threshold=1024 * 1024,
                                   multipart_chunksize=1024 * 1024,
                                   max_request_processes=3)
    with ProcessPoolDownloader(
            client_kwargs={'region_name': TEST_REGION,
                           'endpoint_url': fault_proxy.endpoint_url},
            config=config) as downloader:
        downloader.download_file(bucket, 'big', str(tmp_path / 'big')).result()
    assert (tmp_path / 'big').read_bytes() == body
    requests = gets(fault_proxy, 'big')
    assert len(requests) == 4
    assert_all_direct_and_signed_as_botocore_signs(requests, fault_proxy)


@pytest.mark.parametrize('trust', ['ca-bundle', 'no-verify-ssl'])
def test_direct_gets_over_https(trust, ppcp, objects, bucket,
                                tls_fault_proxy, workdir):
    """Over HTTPS every GET is still direct, on connections verified as
    the CLI's own (``--ca-bundle``) or not (``--no-verify-ssl``)."""
    proxy, cert = tls_fault_proxy
    trust_args = (['--ca-bundle', cert] if trust == 'ca-bundle'
                  else ['--no-verify-ssl'])
    result = ppcp(f's3://{bucket}/', 'out', '--recursive', '--processes', 1,
                  *trust_args, endpoint_url=proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    for key, body in objects.items():
        assert (workdir / 'out' / key).read_bytes() == body
    requests = gets(proxy, 'a-first') + gets(proxy, 'k')
    assert len(requests) == 2
    assert_all_direct_and_signed_as_botocore_signs(requests, proxy)


def test_the_ranged_gets_of_a_checked_download_go_direct(
        ppcp, cli_env, s3_client, bucket, fault_proxy, workdir):
    """With --checksum-mode ENABLED an object fetched in parts is checked
    against its full-object checksum by the parent (the parts' CRCs
    combined); S3 returns no checksum for a range, so its ranged GETs are
    plain and go direct, not through botocore (which checks nothing on
    them). A corrupted part still fails the download
    (tests/functional/test_checksums.py)."""
    body = os.urandom(3 * 1024 * 1024 + 5)
    s3_client.put_object(Bucket=bucket, Key='big', Body=body,
                         ChecksumAlgorithm='CRC32')
    cli_env.set_config('s3', {'multipart_threshold': '1MB',
                              'multipart_chunksize': '1MB'})
    result = ppcp(f's3://{bucket}/big', 'out', '--checksum-mode', 'ENABLED',
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    assert (workdir / 'out').read_bytes() == body
    parts = gets(fault_proxy, 'big')
    assert len(parts) == 4 and direct(parts) == parts
