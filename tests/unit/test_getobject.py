"""awscli_ppdl.getobject: what a direct GET that fails hands to botocore,
and which GETs stay on botocore's urllib3 session."""
import io

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from awscli_ppdl.getobject import (
    GetObjectSender, HttpSessionSettings, TemplateLearner)
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
