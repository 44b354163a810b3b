"""The MD5 of an object fetched in one GET, checked against its ETag by
default (issue 26): the worker hashes the bytes as they arrive. The fault
proxy flips one byte of a body on the wire."""
import hashlib
import os

import pytest

from tests.faults.proxy import Rule
from tests.helpers import file_sha256, files_under, output_lines, sha256
from tests.s3server import make_s3_client

MiB = 1024 * 1024
SSE_C_KEY = b'k' * 32


@pytest.fixture(scope='module')
def plain_client(s3_server):
    """Uploads with no checksum but the MD5 ETag, as older SDKs and most
    tools make them: botocore's default CRC32 would otherwise be checked
    by botocore itself on a whole-object GET, before the MD5."""
    client = make_s3_client(s3_server.endpoint_url,
                            request_checksum_calculation='when_required')
    yield client
    client.close()


def md5(data):
    return hashlib.md5(data).hexdigest()


def flipped(data, at):
    data = bytearray(data)
    data[at] ^= 0xFF
    return bytes(data)


def test_a_flipped_byte_fails_the_download_and_leaves_nothing(
        ppcp, plain_client, s3_client, bucket, workdir, fault_proxy):
    body = os.urandom(3 * MiB + 5)
    plain_client.put_object(Bucket=bucket, Key='k', Body=body)
    fault_proxy.add_rule(Rule('GET', key='/k', flip_byte_at=MiB + 1))
    result = ppcp(f's3://{bucket}/k', 'k',
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 1, result.stderr
    [line] = output_lines(result.stderr)
    assert line.startswith(f'download failed: s3://{bucket}/k to ')
    assert line.endswith(
        f's3://{bucket}/k: MD5 of the bytes received is '
        f'{md5(flipped(body, MiB + 1))}, its ETag says {md5(body)}; the '
        'file was not written.')
    assert files_under(workdir) == set()  # no file, no temp file
    # One GET: a mismatch is not retried (as botocore's checksum error).
    assert len(fault_proxy.find_requests(method='GET')) == 1


def test_a_right_object_passes_and_many_small_ones_too(
        ppcp, plain_client, s3_client, bucket, workdir, fault_proxy):
    bodies = {f'p/{n}': os.urandom(n * 1000 + 1) for n in range(20)}
    for key, body in bodies.items():
        plain_client.put_object(Bucket=bucket, Key=key, Body=body)
    result = ppcp(f's3://{bucket}/p/', 'out', '--recursive',
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    for key, body in bodies.items():
        assert (workdir / 'out' / key[2:]).read_bytes() == body


def test_the_profile_setting_turns_the_check_off(
        cli_env, ppcp, plain_client, s3_client, bucket, workdir, fault_proxy):
    """With the check off, the flipped byte lands in the file: it is the
    check, nothing else, that refuses it above."""
    cli_env.set_config('s3', {'ppcp_check_etag_md5': 'False'})
    body = os.urandom(100_000)
    plain_client.put_object(Bucket=bucket, Key='k', Body=body)
    fault_proxy.add_rule(Rule('GET', key='/k', flip_byte_at=7))
    result = ppcp(f's3://{bucket}/k', 'k',
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    assert (workdir / 'k').read_bytes() == flipped(body, 7)


def test_a_bad_setting_is_a_one_line_error(cli_env, ppcp, bucket, workdir):
    cli_env.set_config('s3', {'ppcp_check_etag_md5': 'maybe'})
    result = ppcp(f's3://{bucket}/k', 'k')
    assert result.returncode == 255
    assert output_lines(result.stderr) == [
        "ppcp_check_etag_md5 in the s3 settings of the profile must be true "
        "or false, got 'maybe'."]
    assert files_under(workdir) == set()


def upload_in_two_parts(s3_client, bucket, key, parts):
    upload_id = s3_client.create_multipart_upload(
        Bucket=bucket, Key=key)['UploadId']
    uploaded = []
    for number, body in enumerate(parts, 1):
        response = s3_client.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
            Body=body)
        uploaded.append({'PartNumber': number, 'ETag': response['ETag']})
    s3_client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id,
        MultipartUpload={'Parts': uploaded})


def test_a_multipart_uploaded_object_is_not_checked(
        ppcp, plain_client, s3_client, bucket, workdir, fault_proxy):
    """Its ETag (``-2``) is no MD5 of its bytes: no false failure on a
    right object, and (shown with a flipped byte) no check at all."""
    parts = [os.urandom(5 * MiB), os.urandom(1000)]
    upload_in_two_parts(plain_client, bucket, 'k', parts)
    body = b''.join(parts)
    assert s3_client.head_object(Bucket=bucket, Key='k')['ETag'].endswith(
        '-2"')
    result = ppcp(f's3://{bucket}/k', 'k',
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    assert file_sha256(workdir / 'k') == sha256(body)
    fault_proxy.add_rule(Rule('GET', key='/k', flip_byte_at=3))
    result = ppcp(f's3://{bucket}/k', 'k2',
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    assert (workdir / 'k2').read_bytes() == flipped(body, 3)
    # Fetched in one GET each (below the default 8 MiB threshold).
    assert len(fault_proxy.find_requests(method='GET')) == 2


def test_an_sse_c_object_is_not_checked(
        ppcp, plain_client, s3_client, bucket, workdir, fault_proxy):
    """S3 gives an SSE-C object an ETag that is no MD5 of its bytes (its
    response's x-amz-server-side-encryption-customer-algorithm says so;
    moto sends none, the GET's own SSE-C key tells it here)."""
    body = os.urandom(200_000)
    plain_client.put_object(Bucket=bucket, Key='k', Body=body,
                         SSECustomerAlgorithm='AES256',
                         SSECustomerKey=SSE_C_KEY)
    fault_proxy.add_rule(Rule('GET', key='/k', flip_byte_at=11))
    result = ppcp(f's3://{bucket}/k', 'k', '--sse-c', 'AES256',
                  '--sse-c-key', SSE_C_KEY.decode(),
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    assert (workdir / 'k').read_bytes() == flipped(body, 11)
    [get] = fault_proxy.find_requests(method='GET')
    assert get.headers['x-amz-server-side-encryption-customer-algorithm'] \
        == 'AES256'


def test_an_sse_kms_object_is_not_checked(
        ppcp, plain_client, bucket, workdir, fault_proxy):
    """Its response says ``x-amz-server-side-encryption: aws:kms``, and S3
    gives it an ETag that is no MD5 of its bytes."""
    body = os.urandom(200_000)
    plain_client.put_object(Bucket=bucket, Key='k', Body=body,
                            ServerSideEncryption='aws:kms')
    fault_proxy.add_rule(Rule('GET', key='/k', flip_byte_at=11))
    result = ppcp(f's3://{bucket}/k', 'k',
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    assert (workdir / 'k').read_bytes() == flipped(body, 11)
