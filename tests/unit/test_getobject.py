"""awscli_ppdl.getobject: how a direct GET is signed, what one that fails
hands to botocore, and which GETs stay on botocore's urllib3 session."""
import dataclasses
import datetime
import io
import sys

import botocore.exceptions
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials

from awscli_ppdl import getobject
from awscli_ppdl.getobject import (
    CrtTemplateSigner, GetObjectSender, HttpSessionSettings, TemplateLearner)
from tests.s3server import free_port
from tests.scripted_server import ok


class _Raw(io.BytesIO):
    def stream(self, **kwargs):
        yield self.read()


def client_for(endpoint_url, **config):
    return botocore.session.get_session().create_client(
        's3', region_name='us-east-1', endpoint_url=endpoint_url,
        aws_access_key_id='a', aws_secret_access_key='b',
        config=Config(retries={'mode': 'legacy', 'max_attempts': 2},
                      **config))


def sender_for(client, template):
    return GetObjectSender(
        lambda: client, lambda bucket: template,
        client._request_signer._credentials,
        HttpSessionSettings.of_client(client))


def read(body):
    buffer = bytearray(100)
    return bytes(buffer[:body.readinto(memoryview(buffer))])


def test_a_direct_get_that_cannot_connect_is_botocores_first_attempt():
    """Nothing listens where the template points: the failure to connect
    is the first attempt botocore retries (as for ``aws s3 cp``), not an
    error of the file; botocore's second attempt is answered here."""
    endpoint_url = 'http://127.0.0.1:%d' % free_port()
    template = TemplateLearner(client_for(endpoint_url)).learn('b')
    assert template is not None
    client = client_for(endpoint_url)
    attempts = []

    def answer_the_retry(request, **kwargs):
        attempts.append(request.url)
        if len(attempts) == 2:
            return AWSResponse(request.url, 200, {'Content-Length': '5'},
                               _Raw(b'hello'))
        return None

    client.meta.events.register('before-send.s3.GetObject', answer_the_retry)
    body = sender_for(client, template).get_object('b', 'k', {})
    assert read(body) == b'hello'
    assert attempts == [f'{endpoint_url}/b/k'] * 2


def test_a_body_the_lean_client_cannot_frame_is_fetched_by_botocore(
        scripted_server):
    """A chunked 200 (S3 never sends one for GetObject): botocore sends that
    GET again itself, on a connection of its own."""
    server = scripted_server(
        [b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
         b'5\r\nhello\r\n0\r\n\r\n'],
        [ok(b'hello')])
    template = TemplateLearner(client_for(server.url)).learn('b')
    body = sender_for(client_for(server.url), template).get_object(
        'b', 'k', {})
    assert read(body) == b'hello'
    [(first, direct), (second, botocores)] = server.requests
    assert (first, second) == (0, 1)
    assert 'amz-sdk-invocation-id' not in direct.lower()
    assert 'amz-sdk-invocation-id' in botocores.lower()


@pytest.mark.parametrize('config, environment, needs_urllib3', [
    ({}, {}, False),
    ({'proxies': {'http': 'http://proxy.example:8080'}}, {}, True),
    ({'client_cert': '/path/both.pem'}, {}, True),
    ({}, {'HTTP_PROXY': 'http://proxy.example:8080'}, True),
    ({}, {'HTTP_PROXY': 'http://proxy.example:8080',
          'NO_PROXY': '127.0.0.1'}, False),
], ids=['direct', 'proxy', 'client-cert', 'proxy-from-env', 'no-proxy'])
def test_a_proxy_or_a_client_certificate_keeps_botocores_session(
        config, environment, needs_urllib3, monkeypatch):
    for name in ('HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy',
                 'https_proxy', 'no_proxy'):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = HttpSessionSettings.of_client(
        client_for('http://127.0.0.1:9000', **config))
    assert settings.needs_urllib3('http://127.0.0.1:9000/b/') is needs_urllib3


EMPTY_SHA256 = ('e3b0c44298fc1c149afbf4c8996fb9'
                '2427ae41e4649b934ca495991b7852b855')
SIGNED_AT = datetime.datetime(2026, 12, 3, 7, 59, 58,
                              tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize('scheme, s3_config, token, expected_payload', [
    ('http', None, None, EMPTY_SHA256),
    ('https', None, 'session-token', EMPTY_SHA256),
    ('https', {'payload_signing_enabled': False}, None, 'UNSIGNED-PAYLOAD'),
    ('http', {'addressing_style': 'virtual'}, None, EMPTY_SHA256),
], ids=['http', 'https-with-token', 'unsigned-payload', 'virtual-host'])
def test_a_direct_get_is_signed_as_botocores_crt_signer_signs_it(
        monkeypatch, scheme, s3_config, token, expected_payload):
    """Header for header, at the same instant, for keys that need
    encoding and with the per-object headers; the payload's hash as
    botocore decides it for the template."""
    # An IP address is always addressed by path (and so is a bucket name
    # too short for a host name).
    host = 'localhost' if s3_config == {'addressing_style': 'virtual'} \
        else '127.0.0.1'
    endpoint_url = f'{scheme}://{host}:{free_port()}'
    config = {} if s3_config is None else {'s3': s3_config}
    template = TemplateLearner(client_for(endpoint_url, **config)).learn(
        'bucket')
    signer = CrtTemplateSigner.for_template(template)
    assert signer is not None
    crt_auth = sys.modules[getobject.CrtS3SigV4Auth.__module__]
    for module in (crt_auth, getobject):
        monkeypatch.setattr(module, 'get_current_datetime',
                            lambda remove_tzinfo=True: SIGNED_AT)
    credentials = Credentials('AKIDEXAMPLE', 'secret', token)
    for key, extra_args in [
            ('k', {}), ('dir/b c+d é~(1)', {}),
            ('big.bin', {'Range': 'bytes=0-8388607',
                         'IfMatch': '"5d41402abc4b2a76b9719d911017c592"'})]:
        request = template.request(key, extra_args)
        template.auth(credentials).add_auth(request)
        expected = sorted((name.lower(), value)
                          for name, value in request.headers.items())
        signed = sorted((name.lower(), value) for name, value in
                        signer.headers(key, extra_args, credentials))
        assert signed == expected
        assert template.url(key) == request.url
        assert dict(signed)['x-amz-content-sha256'] == expected_payload
        assert ('x-amz-security-token' in dict(signed)) == (token is not None)
    if s3_config == {'addressing_style': 'virtual'}:
        assert dict(signed)['host'].startswith('bucket.localhost:')
        assert template.url('k').startswith('http://bucket.localhost:')


def test_a_template_botocore_signs_otherwise_keeps_botocores_signer():
    """SigV4 without S3's rules (a template signed ``v4``): botocore's
    signer object signs each GET."""
    endpoint_url = f'http://127.0.0.1:{free_port()}'
    template = TemplateLearner(client_for(endpoint_url)).learn('b')
    assert CrtTemplateSigner.for_template(template) is not None
    assert CrtTemplateSigner.for_template(
        dataclasses.replace(template, signature_version='v4')) is None


def test_a_direct_get_through_a_proxy_goes_on_urllib3(scripted_server,
                                                      monkeypatch):
    """A proxy: the direct GET is signed by botocore's signer and sent on
    a ``URLLib3Session`` like the client's (the proxy sees the absolute
    URL); an error it gets is botocore's first attempt, not sent again."""
    for name in ('HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy',
                 'https_proxy', 'no_proxy'):
        monkeypatch.delenv(name, raising=False)
    no_such_key = (b'<?xml version="1.0" encoding="UTF-8"?><Error>'
                   b'<Code>NoSuchKey</Code><Message>No key</Message></Error>')
    proxy = scripted_server([
        ok(b'hello'),
        b'HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s' % (
            len(no_such_key), no_such_key)])
    endpoint_url = 'http://s3.example.test:9000'
    template = TemplateLearner(client_for(
        endpoint_url, proxies={'http': proxy.url})).learn('b')
    sender = sender_for(
        client_for(endpoint_url, proxies={'http': proxy.url}), template)
    body = sender.get_object('b', 'k', {'Range': 'bytes=0-4'})
    assert read(body) == b'hello'
    body.release(True)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        sender.get_object('b', 'gone', {})
    assert raised.value.response['Error']['Code'] == 'NoSuchKey'
    [(first, direct), (second, missing)] = proxy.requests
    assert (first, second) == (0, 0)
    assert direct.startswith(f'GET {endpoint_url}/b/k HTTP/1.1')
    assert 'range: bytes=0-4' in direct.lower()
    assert 'authorization: aws4-hmac-sha256' in direct.lower()
    assert 'amz-sdk-invocation-id' not in direct.lower()
    assert missing.startswith(f'GET {endpoint_url}/b/gone HTTP/1.1')
    assert 'amz-sdk-invocation-id' not in missing.lower()
