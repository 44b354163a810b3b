"""awscli_ppdl.getobject: what a direct GET that fails hands to botocore."""
import io

import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from awscli_ppdl.getobject import (
    GetObjectSender, HttpSessionSettings, TemplateLearner)
from tests.s3server import free_port


class _Raw(io.BytesIO):
    def stream(self, **kwargs):
        yield self.read()


def client_for(endpoint_url):
    return botocore.session.get_session().create_client(
        's3', region_name='us-east-1', endpoint_url=endpoint_url,
        aws_access_key_id='a', aws_secret_access_key='b',
        config=Config(retries={'mode': 'legacy', 'max_attempts': 2}))


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
    sender = GetObjectSender(
        lambda: client, lambda bucket: template,
        client._request_signer._credentials,
        HttpSessionSettings.of_client(client))
    body = sender.get_object('b', 'k', {})
    buffer = bytearray(10)
    assert body.readinto(memoryview(buffer)) == 5
    assert bytes(buffer[:5]) == b'hello'
    assert attempts == [f'{endpoint_url}/b/k'] * 2
