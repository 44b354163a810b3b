"""Tests of the fault-injecting proxy itself (tests/faults/proxy.py)."""
import hashlib
import http.client
import os
import socket
import sys
import threading

import awscli  # noqa: F401  (first: vendored botocore)
import botocore.exceptions
import pytest

from tests.faults.proxy import FaultProxy, Headers, RequestRecord, Rule
from tests.s3server import make_s3_client

pytestmark = [pytest.mark.faults, pytest.mark.timeout(60)]

KEY = 'dir one/obj ü.bin'           # space + non-ASCII: percent-encoded on the wire
KEY_PATH = 'dir%20one/obj%20%C3%BC.bin'
SIZE = 256 * 1024 + 17
# moto answers anonymous requests with 403; it does not check signatures, so
# hand-made requests only need some SigV4-looking Authorization header.
FAKE_AUTH = {'Authorization': 'AWS4-HMAC-SHA256 Credential=testing/20250101/'
                              'us-east-1/s3/aws4_request, SignedHeaders=host, '
                              'Signature=00'}


def sha256(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope='module')
def payload():
    return os.urandom(SIZE)


@pytest.fixture
def obj(s3_client, bucket, payload):
    """``(bucket, key, bytes)`` of an object stored directly in moto."""
    s3_client.put_object(Bucket=bucket, Key=KEY, Body=payload)
    return bucket, KEY, payload


@pytest.fixture
def s3p(fault_proxy):
    """botocore client through the proxy, no retries.

    NB: botocore's Config ``retries={'max_attempts': N}`` counts *retries*
    (N + 1 attempts in all); ``total_max_attempts`` counts attempts.  See
    test_config_max_attempts_counts_retries.
    """
    client = make_s3_client(fault_proxy.endpoint_url,
                            retries={'total_max_attempts': 1, 'mode': 'standard'})
    yield client
    client.close()


def client_error(excinfo):
    err = excinfo.value.response
    return (err['Error']['Code'],
            err['ResponseMetadata']['HTTPStatusCode'])


def raw_request(proxy, method, path, headers=None, body=None):
    """One request on a fresh raw socket; returns (head_bytes, body_bytes,
    how) where ``how`` is 'FIN' (orderly EOF) or 'RST' (ECONNRESET)."""
    sock = socket.create_connection(('127.0.0.1', proxy.port), timeout=20)
    try:
        lines = ['%s %s HTTP/1.1' % (method, path), 'Host: 127.0.0.1']
        for k, v in dict(FAKE_AUTH, **(headers or {})).items():
            lines.append('%s: %s' % (k, v))
        if body is not None:
            lines.append('Content-Length: %d' % len(body))
        sock.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')
                     + (body or b''))
        received = bytearray()
        how = None
        while how is None:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                how = 'RST'
                break
            if not chunk:
                how = 'FIN'
            received += chunk
        head, _, rest = bytes(received).partition(b'\r\n\r\n')
        return head, rest, how
    finally:
        sock.close()


def header_value(head, name):
    for line in head.split(b'\r\n')[1:]:
        k, _, v = line.partition(b':')
        if k.strip().lower() == name.lower().encode():
            return v.strip().decode()
    return None


# -- passthrough -----------------------------------------------------------

def test_passthrough_put_get_head_roundtrip(fault_proxy, s3p, s3_client,
                                            bucket, payload):
    s3p.put_object(Bucket=bucket, Key=KEY, Body=payload)
    # stored correctly upstream (read directly from moto, not via the proxy)
    direct = s3_client.get_object(Bucket=bucket, Key=KEY)['Body'].read()
    assert sha256(direct) == sha256(payload)

    resp = s3p.get_object(Bucket=bucket, Key=KEY)
    assert resp['ResponseMetadata']['HTTPStatusCode'] == 200
    assert resp['ContentLength'] == SIZE
    assert sha256(resp['Body'].read()) == sha256(payload)

    head = s3p.head_object(Bucket=bucket, Key=KEY)
    assert head['ContentLength'] == SIZE
    assert head['ETag'] == resp['ETag']

    methods = [(r.method, r.key_path) for r in fault_proxy.requests]
    expected_path = '/%s/%s' % (bucket, KEY)
    assert methods == [('PUT', expected_path), ('GET', expected_path),
                       ('HEAD', expected_path)]
    put = fault_proxy.requests[0]
    assert put.path == '/%s/%s' % (bucket, KEY_PATH)
    assert put.headers['Content-Length'] == str(SIZE)
    assert fault_proxy.errors == []


def test_passthrough_multipart_upload_forwards_post_bodies(fault_proxy, s3p,
                                                           s3_client, bucket):
    part1 = os.urandom(5 * 1024 * 1024)
    part2 = os.urandom(1000)
    mpu = s3p.create_multipart_upload(Bucket=bucket, Key='mpu.bin')
    etags = []
    for number, part in ((1, part1), (2, part2)):
        r = s3p.upload_part(Bucket=bucket, Key='mpu.bin', PartNumber=number,
                            UploadId=mpu['UploadId'], Body=part)
        etags.append({'PartNumber': number, 'ETag': r['ETag']})
    s3p.complete_multipart_upload(Bucket=bucket, Key='mpu.bin',
                                  UploadId=mpu['UploadId'],
                                  MultipartUpload={'Parts': etags})
    body = s3_client.get_object(Bucket=bucket, Key='mpu.bin')['Body'].read()
    assert sha256(body) == sha256(part1 + part2)

    posts = fault_proxy.find_requests(method='POST')
    assert [p.params.get('uploads') is not None for p in posts] == [True, False]
    assert posts[1].params['uploadId'] == [mpu['UploadId']]
    assert len(fault_proxy.find_requests(method='PUT', query='partNumber=')) == 2


def test_keep_alive_and_chunked_request_body(fault_proxy, obj, s3_client):
    bucket, key, data = obj
    conn = http.client.HTTPConnection('127.0.0.1', fault_proxy.port, timeout=20)
    try:
        # chunked upload: the proxy de-chunks it and forwards a Content-Length
        conn.putrequest('PUT', '/%s/chunked.bin' % bucket)
        conn.putheader('Transfer-Encoding', 'chunked')
        conn.putheader('Authorization', FAKE_AUTH['Authorization'])
        conn.endheaders()
        for piece in (b'hello ', b'chunked ', b'world'):
            conn.send(b'%x\r\n%s\r\n' % (len(piece), piece))
        conn.send(b'0\r\n\r\n')
        resp = conn.getresponse()
        assert resp.status == 200
        resp.read()
        sock = conn.sock
        # second and third request on the same connection (keep-alive)
        conn.request('GET', '/%s/chunked.bin' % bucket, headers=FAKE_AUTH)
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, b'hello chunked world')
        conn.request('GET', '/%s/%s' % (bucket, KEY_PATH),
                     headers=dict(FAKE_AUTH, Range='bytes=10-19'))
        resp = conn.getresponse()
        assert resp.status == 206
        assert resp.getheader('Content-Range') == 'bytes 10-19/%d' % SIZE
        assert resp.read() == data[10:20]
        assert conn.sock is sock, 'connection was not kept alive'
    finally:
        conn.close()
    stored = s3_client.get_object(Bucket=bucket, Key='chunked.bin')
    assert stored['Body'].read() == b'hello chunked world'
    put = fault_proxy.find_requests(method='PUT')[0]
    assert put.headers['Transfer-Encoding'] == 'chunked'


# -- status ------------------------------------------------------------------

def test_status_slowdown_503(fault_proxy, s3p, obj):
    bucket, key, _ = obj
    rule = fault_proxy.add_rule(
        Rule('GET', key=key, status=(503, 'SlowDown', 'Please reduce rate')))
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        s3p.get_object(Bucket=bucket, Key=key)
    assert client_error(excinfo) == ('SlowDown', 503)
    assert excinfo.value.response['Error']['Message'] == 'Please reduce rate'
    assert rule.fired == 1
    assert len(fault_proxy.find_requests(method='GET')) == 1   # no retries


def test_status_response_is_s3_xml_error(fault_proxy, obj):
    bucket, key, _ = obj
    fault_proxy.add_rule(Rule('GET', status=(500, 'InternalError', 'a<b&c')))
    conn = http.client.HTTPConnection('127.0.0.1', fault_proxy.port, timeout=20)
    try:
        conn.request('GET', '/%s/anything' % bucket)
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 500
        assert resp.getheader('Content-Type') == 'application/xml'
        assert int(resp.getheader('Content-Length')) == len(body)
        assert body == (b'<?xml version="1.0" encoding="UTF-8"?>\n'
                        b'<Error><Code>InternalError</Code>'
                        b'<Message>a&lt;b&amp;c</Message>'
                        b'<RequestId>x</RequestId></Error>')
        # the connection stays usable after an injected error
        conn.request('HEAD', '/%s/%s' % (bucket, KEY_PATH), headers=FAKE_AUTH)
        resp = conn.getresponse()
        resp.read()
        assert (resp.status, resp.getheader('Content-Length')) == (200, str(SIZE))
    finally:
        conn.close()


@pytest.mark.parametrize('status,code', [
    ((400, 'ExpiredToken', 'token expired'), 'ExpiredToken'),
    ((412, 'PreconditionFailed', 'At least one precondition failed'),
     'PreconditionFailed'),
])
def test_status_other_codes(fault_proxy, s3p, obj, status, code):
    bucket, key, _ = obj
    fault_proxy.add_rule(Rule('GET', status=status))
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        s3p.get_object(Bucket=bucket, Key=key)
    assert client_error(excinfo) == (code, status[0])


def test_status_on_head_has_no_body(fault_proxy, s3p, obj):
    bucket, key, _ = obj
    fault_proxy.add_rule(Rule('HEAD', status=(503, 'SlowDown', 'x')))
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        s3p.head_object(Bucket=bucket, Key=key)
    # HEAD errors carry no body: botocore reports the status code as the code
    assert client_error(excinfo) == ('503', 503)
    # a GET is not matched by the HEAD rule
    assert s3p.get_object(Bucket=bucket, Key=key)['ContentLength'] == SIZE


# -- connection faults --------------------------------------------------------

def test_reset_after_bytes_botocore(fault_proxy, s3p, obj):
    bucket, key, data = obj
    fault_proxy.add_rule(Rule('GET', key=key, reset_after_bytes=1000))
    resp = s3p.get_object(Bucket=bucket, Key=key)
    # status line and headers arrive intact, with the full length
    assert resp['ResponseMetadata']['HTTPStatusCode'] == 200
    assert resp['ContentLength'] == SIZE
    body = resp['Body']
    assert body.read(1000) == data[:1000]
    with pytest.raises(botocore.exceptions.ResponseStreamingError) as excinfo:
        body.read()
    # urllib3 ProtocolError("Connection broken: ConnectionResetError(104...)")
    inner = excinfo.value.kwargs['error']
    assert isinstance(inner.args[1], ConnectionResetError)


@pytest.mark.parametrize('action, announced, ending, sent', [
    ({'reset_after_bytes': 777}, SIZE, 'RST', 777),
    ({'truncate_after_bytes': 4321}, SIZE, 'FIN', 4321),
    ({'shorten_body_by': 100}, SIZE - 100, 'FIN', SIZE - 100),
], ids=['reset is RST', 'truncate is FIN', 'shorten announces fewer bytes'])
def test_a_cut_body_on_the_wire(fault_proxy, obj, action, announced, ending,
                                sent):
    """What the client sees of each body-cutting rule: the Content-Length
    announced, the bytes sent, how the connection ends."""
    bucket, _, data = obj
    fault_proxy.add_rule(Rule('GET', **action))
    head, body, how = raw_request(
        fault_proxy, 'GET', '/%s/%s' % (bucket, KEY_PATH))
    assert head.startswith(b'HTTP/1.1 200 ')
    assert header_value(head, 'Content-Length') == str(announced)
    assert header_value(head, 'Connection') == 'close'
    assert (how, body) == (ending, data[:sent])


def test_truncate_after_bytes_botocore(fault_proxy, s3p, obj):
    bucket, key, data = obj
    fault_proxy.add_rule(Rule('GET', key=key, truncate_after_bytes=1000))
    resp = s3p.get_object(Bucket=bucket, Key=key)
    assert resp['ContentLength'] == SIZE
    with pytest.raises(botocore.exceptions.ResponseStreamingError) as excinfo:
        resp['Body'].read()
    # urllib3 enforces Content-Length: ProtocolError wrapping IncompleteRead
    inner = excinfo.value.kwargs['error'].args[1]
    assert type(inner) is http.client.IncompleteRead
    assert inner.partial == data[:1000]
    assert inner.expected == SIZE - 1000


def test_reset_after_zero_bytes_of_ranged_get(fault_proxy, s3p, obj):
    bucket, key, _ = obj
    fault_proxy.add_rule(Rule('GET', has_range=True, reset_after_bytes=0))
    resp = s3p.get_object(Bucket=bucket, Key=key, Range='bytes=0-9')
    assert resp['ResponseMetadata']['HTTPStatusCode'] == 206
    with pytest.raises(botocore.exceptions.ResponseStreamingError):
        resp['Body'].read()


# -- drop_range / range_start -------------------------------------------------

def test_drop_range_returns_whole_object(fault_proxy, s3p, obj):
    bucket, key, data = obj
    fault_proxy.add_rule(Rule('GET', has_range=True, drop_range=True))
    resp = s3p.get_object(Bucket=bucket, Key=key, Range='bytes=0-99')
    assert resp['ResponseMetadata']['HTTPStatusCode'] == 200
    assert 'ContentRange' not in resp
    assert resp['ContentLength'] == SIZE
    assert sha256(resp['Body'].read()) == sha256(data)
    # the log shows the request as the client sent it
    (rec,) = fault_proxy.find_requests(method='GET', has_range=True)
    assert rec.headers['Range'] == 'bytes=0-99'
    assert rec.range == (0, 99)


def test_range_start_matches_only_that_part(fault_proxy, s3p, obj):
    bucket, key, data = obj
    rule = fault_proxy.add_rule(
        Rule('GET', range_start=100, status=(500, 'InternalError', 'boom')))
    for start in (0, 200):
        resp = s3p.get_object(Bucket=bucket, Key=key,
                              Range='bytes=%d-%d' % (start, start + 99))
        assert resp['ResponseMetadata']['HTTPStatusCode'] == 206
        assert resp['ContentRange'] == 'bytes %d-%d/%d' % (start, start + 99, SIZE)
        assert resp['Body'].read() == data[start:start + 100]
    # an un-ranged GET is not matched either
    assert s3p.get_object(Bucket=bucket, Key=key)['Body'].read() == data
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        s3p.get_object(Bucket=bucket, Key=key, Range='bytes=100-199')
    assert client_error(excinfo) == ('InternalError', 500)
    assert rule.fired == 1
    assert [r.range_start for r in rule.records] == [100]


def test_has_range_false_matches_only_unranged(fault_proxy, s3p, obj):
    bucket, key, data = obj
    fault_proxy.add_rule(Rule('GET', key=key, has_range=False,
                              status=(503, 'SlowDown', 'x')))
    resp = s3p.get_object(Bucket=bucket, Key=key, Range='bytes=5-9')
    assert resp['Body'].read() == data[5:10]
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        s3p.get_object(Bucket=bucket, Key=key)
    assert client_error(excinfo) == ('SlowDown', 503)


# -- times / order / clear ----------------------------------------------------

def test_config_max_attempts_counts_retries(fault_proxy, obj):
    bucket, key, data = obj
    client = make_s3_client(fault_proxy.endpoint_url,
                            retries={'max_attempts': 1, 'mode': 'standard'})
    rule = fault_proxy.add_rule(
        Rule('GET', key=key, status=(503, 'SlowDown', 'x')))
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client.get_object(Bucket=bucket, Key=key)
    client.close()
    assert client_error(excinfo) == ('SlowDown', 503)
    assert excinfo.value.response['ResponseMetadata']['RetryAttempts'] == 1
    assert rule.fired == 2
    attempts = [[part.strip() for part in r.headers['amz-sdk-request'].split(';')
                 if part.strip().startswith('attempt=')]
                for r in fault_proxy.requests]
    assert attempts == [['attempt=1'], ['attempt=2']]


def test_times_one_then_passthrough(fault_proxy, s3p, obj):
    bucket, key, data = obj
    rule = fault_proxy.add_rule(
        Rule('GET', key=key, times=1, status=(503, 'SlowDown', 'x')))
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        s3p.get_object(Bucket=bucket, Key=key)
    assert client_error(excinfo) == ('SlowDown', 503)
    assert rule.exhausted
    resp = s3p.get_object(Bucket=bucket, Key=key)
    assert resp['Body'].read() == data
    assert rule.fired == 1
    assert len(fault_proxy.find_requests(method='GET')) == 2


def test_first_match_wins_and_exhausted_rules_fall_through(fault_proxy, s3p,
                                                           obj):
    bucket, key, data = obj
    first = fault_proxy.add_rule(
        Rule('GET', times=2, status=(503, 'SlowDown', 'first')))
    second = fault_proxy.add_rule(
        Rule('GET', times=1, status=(500, 'InternalError', 'second')))
    seen = []
    for _ in range(4):
        try:
            s3p.get_object(Bucket=bucket, Key=key)['Body'].read()
            seen.append('ok')
        except botocore.exceptions.ClientError as e:
            seen.append(e.response['Error']['Code'])
    assert seen == ['SlowDown', 'SlowDown', 'InternalError', 'ok']
    assert (first.fired, second.fired) == (2, 1)


def test_clear_rules(fault_proxy, s3p, obj):
    bucket, key, data = obj
    fault_proxy.add_rule(Rule('GET', status=(503, 'SlowDown', 'x')))
    with pytest.raises(botocore.exceptions.ClientError):
        s3p.get_object(Bucket=bucket, Key=key)
    fault_proxy.clear_rules()
    assert fault_proxy.rules == []
    assert s3p.get_object(Bucket=bucket, Key=key)['Body'].read() == data


def test_path_and_query_matchers(fault_proxy, s3p, obj):
    bucket, key, _ = obj
    # ListObjectsV2 is GET /bucket?list-type=2; must not hit the object rule
    fault_proxy.add_rule(Rule('GET', path=r'\.bin$',
                              status=(503, 'SlowDown', 'x')))
    fault_proxy.add_rule(Rule('GET', query=r'(^|&)list-type=2',
                              status=(500, 'InternalError', 'y')))
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        s3p.list_objects_v2(Bucket=bucket)
    assert client_error(excinfo) == ('InternalError', 500)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        s3p.get_object(Bucket=bucket, Key=key)
    assert client_error(excinfo) == ('SlowDown', 503)


# -- callback / delay / throttle ----------------------------------------------

def test_callback_runs_once_before_forwarding(fault_proxy, s3p, s3_client,
                                              obj):
    bucket, key, data = obj
    calls = []

    def overwrite(record):
        calls.append(record)
        s3_client.put_object(Bucket=bucket, Key=key, Body=b'new contents')

    fault_proxy.add_rule(Rule('GET', key=key, times=1, callback=overwrite))
    first = s3p.get_object(Bucket=bucket, Key=key)['Body'].read()
    second = s3p.get_object(Bucket=bucket, Key=key)['Body'].read()
    assert first == b'new contents'          # overwritten before forwarding
    assert second == b'new contents'
    assert len(calls) == 1
    assert isinstance(calls[0], RequestRecord)
    assert (calls[0].method, calls[0].key_path) == ('GET', '/%s/%s' % (bucket, key))


def test_callback_exception_is_recorded(fault_proxy, s3p, obj):
    bucket, key, _ = obj

    def fail(record):
        raise ValueError('callback broke')

    fault_proxy.add_rule(Rule('GET', callback=fail))
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        s3p.get_object(Bucket=bucket, Key=key)
    assert client_error(excinfo) == ('InternalError', 500)
    assert [str(e) for e in fault_proxy.errors] == ['callback broke']


def test_delay_still_answers(fault_proxy, s3p, obj):
    bucket, key, data = obj
    rule = fault_proxy.add_rule(Rule('GET', delay_seconds=0.2))
    assert s3p.get_object(Bucket=bucket, Key=key)['Body'].read() == data
    assert rule.fired == 1


def test_delay_beyond_read_timeout(fault_proxy, obj):
    bucket, key, _ = obj
    client = make_s3_client(fault_proxy.endpoint_url,
                            retries={'total_max_attempts': 1, 'mode': 'standard'},
                            read_timeout=0.3)
    fault_proxy.add_rule(Rule('GET', delay_seconds=30))
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        client.get_object(Bucket=bucket, Key=key)
    client.close()
    # fixture teardown: stop() interrupts the pending 30 s delay


def test_throttled_download_is_complete(fault_proxy, s3p, obj):
    bucket, key, data = obj
    fault_proxy.add_rule(Rule('GET', throttle_bytes_per_second=400_000,
                              range_start=0))
    resp = s3p.get_object(Bucket=bucket, Key=key, Range='bytes=0-39999')
    assert resp['Body'].read() == data[:40000]


def test_throttle_with_truncate(fault_proxy, obj):
    bucket, _, data = obj
    fault_proxy.add_rule(Rule('GET', throttle_bytes_per_second=100_000,
                              truncate_after_bytes=5000))
    head, body, how = raw_request(
        fault_proxy, 'GET', '/%s/%s' % (bucket, KEY_PATH))
    assert header_value(head, 'Content-Length') == str(SIZE)
    assert (how, body) == ('FIN', data[:5000])


# -- request log ----------------------------------------------------------------

def test_request_log_records_if_match(fault_proxy, s3p, obj):
    bucket, key, data = obj
    etag = s3p.head_object(Bucket=bucket, Key=key)['ETag']
    resp = s3p.get_object(Bucket=bucket, Key=key, IfMatch=etag,
                          Range='bytes=0-9')
    assert resp['Body'].read() == data[:10]
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        s3p.get_object(Bucket=bucket, Key=key, IfMatch='"not-the-etag"')
    assert client_error(excinfo) == ('PreconditionFailed', 412)

    log = fault_proxy.requests
    assert [r.method for r in log] == ['HEAD', 'GET', 'GET']
    assert 'If-Match' not in log[0].headers
    assert log[1].headers['if-match'] == etag
    assert log[1].headers.get('RANGE') == 'bytes=0-9'
    assert log[2].headers['If-Match'] == '"not-the-etag"'
    assert fault_proxy.find_requests(header='If-Match') == log[1:]
    assert len(fault_proxy.find_requests(method='GET', has_range=True)) == 1
    fault_proxy.clear_requests()
    assert fault_proxy.requests == []


def test_headers_snapshot_is_case_insensitive():
    h = Headers([('If-Match', '"a"'), ('X-Multi', '1'), ('x-multi', '2')])
    assert h['if-match'] == '"a"' and 'IF-MATCH' in h
    assert h['X-MULTI'] == '1, 2'
    assert h.get_all('x-multi') == ['1', '2']
    assert 'Range' not in h and h.get('Range') is None


# -- rule validation / lifecycle --------------------------------------------------

@pytest.mark.parametrize('kwargs', [
    {},
    {'method': 'GET'},
    {'status': (503, 'SlowDown', 'x'), 'reset_after_bytes': 1},
    {'status': (503, 'SlowDown', 'x'), 'drop_range': True},
    {'reset_after_bytes': 1, 'truncate_after_bytes': 1},
    {'status': (503, 'SlowDown')},
    {'reset_after_bytes': -1},
    {'throttle_bytes_per_second': 0},
])
def test_invalid_rules_rejected(kwargs):
    with pytest.raises(ValueError):
        Rule(**kwargs)


def test_stop_closes_everything(s3_server, obj):
    bucket, key, data = obj
    proxy = FaultProxy(s3_server.endpoint_url).start()
    port = proxy.port
    # an idle keep-alive connection and a request stuck in a long delay
    idle = http.client.HTTPConnection('127.0.0.1', port, timeout=20)
    idle.request('HEAD', '/%s/%s' % (bucket, KEY_PATH), headers=FAKE_AUTH)
    idle.getresponse().read()
    proxy.add_rule(Rule('GET', delay_seconds=60))
    stuck_result = []

    def stuck():
        c = http.client.HTTPConnection('127.0.0.1', port, timeout=20)
        try:
            c.request('GET', '/%s/x' % bucket)
            c.getresponse().read()
            stuck_result.append('answered')
        except (OSError, http.client.HTTPException) as e:
            stuck_result.append(type(e).__name__)
        finally:
            c.close()

    t = threading.Thread(target=stuck)
    t.start()
    # wait (by the log, not by time) until the stuck request is inside
    for _ in range(2000):
        if proxy.find_requests(method='GET'):
            break
        threading.Event().wait(0.005)
    assert proxy.find_requests(method='GET')
    proxy.stop()
    t.join(10)
    assert not t.is_alive()
    assert stuck_result and stuck_result[0] != 'answered'
    assert proxy.alive_threads == []
    assert not proxy.running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(('127.0.0.1', port), timeout=5).close()
    idle.close()


# -- the real CLI through the proxy (checks aws_env / run_aws too) ----------------

@pytest.mark.timeout(120)
def test_aws_cli_through_proxy(fault_proxy, aws_env, obj, tmp_path):
    from tests.s3server import run_aws
    bucket, key, data = obj
    assert 'AWS_ACCESS_KEY_ID' not in aws_env
    assert aws_env['AWS_CONFIG_FILE'] == aws_env.config_file
    assert 'ppcp = awscli_ppdl' in aws_env.read_config()
    fault_proxy.add_rule(Rule('GET', key=key, times=1,
                              status=(503, 'SlowDown', 'cli sees this')))
    out = tmp_path / 'out.bin'
    args = ['s3api', 'get-object', '--bucket', bucket, '--key', key, str(out),
            '--endpoint-url', fault_proxy.endpoint_url]
    aws_env.append_config('max_attempts = 1')     # lands in [default]
    first = run_aws(args, aws_env)
    assert first.returncode == 255, first.stderr     # CLI v1: ClientError
    assert ('An error occurred (SlowDown) when calling the GetObject operation '
            '(reached max retries: 0): cli sees this') in first.stderr
    assert not out.exists()
    second = run_aws(args, aws_env)
    assert second.returncode == 0, second.stderr
    assert out.read_bytes() == data
    gets = fault_proxy.find_requests(method='GET', key=key)
    assert len(gets) == 2
    assert all('Botocore' in g.headers['User-Agent'] or 'aws-cli' in
               g.headers['User-Agent'] for g in gets)


def test_aws_env_set_config(aws_env):
    import configparser
    aws_env.set_config('s3', {'max_concurrent_requests': '4',
                              'multipart_chunksize': '8MB'})
    aws_env.set_config('max_attempts', '2')
    aws_env.append_config('[profile other]\nregion = eu-west-1')
    parser = configparser.RawConfigParser()
    parser.read(aws_env.config_file)
    assert parser.get('plugins', 'ppcp') == 'awscli_ppdl'
    assert parser.get('default', 'region') == 'us-east-1'
    assert parser.get('default', 'max_attempts') == '2'
    assert parser.get('default', 's3').split('\n') == [
        '', 'max_concurrent_requests = 4', 'multipart_chunksize = 8MB']
    assert parser.get('profile other', 'region') == 'eu-west-1'
    assert aws_env['HOME'] == aws_env.home
    assert aws_env['PATH'].split(os.pathsep)[0] == os.path.dirname(sys.executable)
    assert aws_env['AWS_EC2_METADATA_DISABLED'] == 'true'
    assert not [k for k in aws_env if k.startswith('AWS_') and k not in (
        'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE',
        'AWS_EC2_METADATA_DISABLED')]


def test_flip_byte_at_inverts_one_body_byte(fault_proxy, s3_server, bucket,
                                            payload):
    # No checksum stored, none asked for: botocore reads the bytes as sent.
    s3p = make_s3_client(fault_proxy.endpoint_url,
                         request_checksum_calculation='when_required',
                         response_checksum_validation='when_required')
    key, data = KEY, payload
    s3p.put_object(Bucket=bucket, Key=key, Body=data)
    fault_proxy.add_rule(Rule('GET', flip_byte_at=70_000, times=1))
    body = s3p.get_object(Bucket=bucket, Key=key)['Body'].read()
    assert len(body) == len(data)
    assert body[70_000] == data[70_000] ^ 0xFF
    assert body[:70_000] + body[70_001:] == data[:70_000] + data[70_001:]
    assert s3p.get_object(Bucket=bucket, Key=key)['Body'].read() == data
