"""GetObject for a worker: botocore's request, without botocore's per-request
pipeline for the common case.

Botocore spends ~2 ms of CPU on each GetObject (parameter validation and
serialisation, endpoint rules, user agent, a dozen event hooks, response
parsing); for 16-256 KiB objects that is most of a worker's work. Most of it
yields the same request every time: only the key, the range and the ETag
change. So the first plain GET of a bucket goes through botocore, and the
request botocore built for it (URL, headers, signing name and region, the
signer) becomes that bucket's template; later GETs of the bucket fill in the
key, ``Range`` and ``If-Match``, are signed by botocore's own signer with the
current credentials and are sent on the client's own HTTP session (its
connection pool, TLS settings, proxies and timeouts).

Anything else is botocore's alone, so nothing about it changes: a GET with
other arguments (SSE-C, requester pays, version, ``--checksum-mode``), a
response that is not 200/206 and a request that fails to send are passed to
``client.get_object``, and an unsuccessful outcome is handed to it as the
result of its first attempt (through ``before-send``, as botocore's Stubber
does) rather than sent again: botocore's retries, backoff, region redirects
and error messages apply as they do to ``aws s3 cp``, with the same number
of requests.
"""
import dataclasses
from typing import Callable, Optional

from botocore.awsrequest import AWSRequest
from botocore.exceptions import HTTPClientError
from botocore.httpchecksum import handle_checksum_body
from botocore.response import StreamingBody
from botocore.utils import percent_encode

# The GetObject arguments a template request can carry (as these headers);
# a GET with any other argument always goes through botocore.
TEMPLATE_ARGUMENTS = {'Range': 'Range', 'IfMatch': 'If-Match'}
# Signature versions whose signing needs nothing but the request and the
# credentials (not S3 Express sessions, not SigV4a's multi-region keys).
TEMPLATE_SIGNATURES = ('s3v4', 'v4')


@dataclasses.dataclass
class ObjectBody:
    """A GetObject response, as much of it as a worker uses."""

    content_length: Optional[int]
    content_range: Optional[str]
    readinto: Callable
    release: Callable  # release(complete): reuse the connection or drop it


@dataclasses.dataclass(frozen=True)
class _RequestTemplate:
    url_prefix: str  # up to the percent-encoded key
    url_suffix: str  # after it (a query string, if any)
    headers: tuple  # (name, value) pairs, without per-object ones
    context: dict  # botocore's, incl. the checksums it would check
    sign_kwargs: dict
    signer: object  # botocore's RequestSigner of the client


class GetObjectSender:
    def __init__(self, client):
        self._client = client
        self._templates = {}
        self._last_signed = None
        self._handoff = None
        self._operation = client.meta.service_model.operation_model(
            'GetObject')
        events = client.meta.events
        events.register('before-sign.s3.GetObject', self._remember_request)
        events.register('before-send.s3.GetObject', self._hand_off)

    def get_object(self, bucket, key, extra_args):
        plain = extra_args.keys() <= TEMPLATE_ARGUMENTS.keys()
        template = self._templates.get(bucket) if plain else None
        if template is not None:
            try:
                response = self._send(template, key, extra_args)
            except HTTPClientError as e:
                self._handoff = e
            else:
                if response.status_code in (200, 206):
                    return self._direct_body(response, template)
                self._handoff = response
        return self._get_through_botocore(bucket, key, extra_args, plain)

    def _send(self, template, key, extra_args):
        headers = dict(template.headers)
        for argument, value in extra_args.items():
            headers[TEMPLATE_ARGUMENTS[argument]] = value
        request = AWSRequest(
            method='GET', headers=headers,
            url=(template.url_prefix + percent_encode(key, safe='/~')
                 + template.url_suffix))
        request.context = dict(template.context)
        template.signer.get_auth_instance(
            **template.sign_kwargs).add_auth(request)
        prepared = request.prepare()
        prepared.stream_output = True
        return self._client._endpoint.http_session.send(prepared)

    def _direct_body(self, response, template):
        """The body as botocore would return it: checked as it is read
        when botocore would check it (``handle_checksum_body``, with the
        checksum algorithms botocore chose for the template's request)."""
        headers = response.headers
        parsed = {'headers': headers, 'context': {}}
        handle_checksum_body(response, parsed, template.context,
                             self._operation)
        length = headers.get('Content-Length')
        length = None if length is None else int(length)
        body = parsed.get('body')
        if body is None:
            body = StreamingBody(response.raw, length)
        return _object_body(body, length, headers.get('Content-Range'))

    def _get_through_botocore(self, bucket, key, extra_args, learn):
        self._last_signed = None
        try:
            response = self._client.get_object(
                Bucket=bucket, Key=key, **extra_args)
        finally:
            self._handoff = None
        if learn:
            self._learn_template(bucket, key)
        return _object_body(response['Body'], response.get('ContentLength'),
                            response.get('ContentRange'))

    def _remember_request(self, request, signing_name, region_name,
                          signature_version, request_signer, **kwargs):
        """``before-sign``: what botocore is about to sign (the last attempt
        of a call is the one that succeeded, after any region redirect)."""
        self._last_signed = (request.url, list(request.headers.items()),
                             dict(request.context), signing_name, region_name,
                             signature_version, request_signer)

    def _hand_off(self, request, **kwargs):
        """``before-send``: the outcome the fast path already had stands for
        botocore's first attempt; later attempts are sent as usual."""
        outcome, self._handoff = self._handoff, None
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def _learn_template(self, bucket, key):
        if self._last_signed is None:
            return
        (url, headers, context, signing_name, region_name, signature_version,
         signer) = self._last_signed
        signing = context.get('signing', {})
        if (signature_version not in TEMPLATE_SIGNATURES
                or signing.get('request_credentials')
                or signing.get('identity_cache') is not None):
            return
        path_end = url.find('?') if '?' in url else len(url)
        encoded_key = percent_encode(key, safe='/~')
        if not url[:path_end].endswith(encoded_key):
            return
        per_object = {h.lower() for h in TEMPLATE_ARGUMENTS.values()}
        self._templates[bucket] = _RequestTemplate(
            url_prefix=url[:path_end - len(encoded_key)],
            url_suffix=url[path_end:],
            headers=tuple((name, value) for name, value in headers
                          if name.lower() not in per_object),
            context=context,
            sign_kwargs={
                'signing_name': signing.get('signing_name') or signing_name,
                'region_name': signing.get('region') or region_name,
                'signature_version': signature_version,
            },
            signer=signer,
        )


def _object_body(body, content_length, content_range):
    return ObjectBody(content_length, content_range, _fastest_readinto(body),
                      lambda complete: _release_or_close(body, complete))


def _fastest_readinto(body):
    """Read a plain body straight from ``http.client``, skipping urllib3's
    ``readinto`` (which reads into a new bytes object, then copies). A body
    that botocore checks as it is read (a checksum) keeps its own
    ``readinto``, so the check still happens."""
    if type(body) is StreamingBody:
        fp = getattr(getattr(body, '_raw_stream', None), '_fp', None)
        if fp is not None and hasattr(fp, 'readinto'):
            return fp.readinto
    return body.readinto


def _release_or_close(body, complete):
    """Give a fully read connection back to the pool; drop any other."""
    raw = getattr(body, '_raw_stream', None)
    fp = getattr(raw, '_fp', None)
    if complete and fp is not None and fp.isclosed() and hasattr(
            raw, 'release_conn'):
        raw.release_conn()
    else:
        body.close()
