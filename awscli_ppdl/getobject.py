"""GetObject for a worker: botocore's request, without botocore's per-request
pipeline (and without a client) for the common case.

Botocore spends ~2 ms of CPU on each GetObject (parameter validation and
serialisation, endpoint rules, user agent, a dozen event hooks, response
parsing), and a client costs a worker the S3 model: ~14 MiB and, in a process
that did not inherit it parsed, ~100 ms of CPU. Most of that work yields the
same request every time: only the key, the range and the ETag change. So the
parent has botocore build (and sign, but not send) one plain GetObject per
bucket, and that request becomes the bucket's ``RequestTemplate``: plain
values, sent to the workers through the monitor. A worker fills in the key,
``Range`` and ``If-Match``, signs with the current credentials as botocore's
own signer would (``CrtTemplateSigner``), and sends with the settings of the
parent's client (its TLS verification, proxies, timeouts, pool size and
socket options): on ``http11``'s lean connections, or, through a proxy or
with a client certificate, on a ``URLLib3Session`` like the client's.

Anything else is botocore's alone, so nothing about it changes: a GET with
other arguments (SSE-C, requester pays, version, ``--checksum-mode``), a
response that is not 200/206 and a request that fails to send are passed to
``client.get_object`` of a client the worker builds when it first needs one,
and an unsuccessful outcome is handed to it as the result of its first
attempt (through ``before-send``, as botocore's Stubber does) rather than
sent again: botocore's retries, backoff, region redirects and error messages
apply as they do to ``aws s3 cp``, with the same number of requests. A plain
GET that botocore sends teaches the worker that bucket's template as botocore
finally sent it (after a region redirect, say).
"""
import dataclasses
import logging
import threading
from typing import Callable, Optional
from urllib.parse import urlsplit

from botocore.auth import (
    AUTH_TYPE_MAPS, STREAMING_UNSIGNED_PAYLOAD_TRAILER, UNSIGNED_PAYLOAD)
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.compat import HAS_CRT, get_current_datetime
from botocore.exceptions import ConnectionError, HTTPClientError
from botocore.httpchecksum import StreamingChecksumBody, handle_checksum_body
from botocore.httpsession import ProxyConfiguration, URLLib3Session
from botocore.response import StreamingBody
from botocore.utils import percent_encode

from awscli_ppdl import http11, splicing
from awscli_ppdl.checksums import etag_md5

if HAS_CRT:
    import awscrt.auth
    import awscrt.http
    from botocore.crt.auth import CrtS3SigV4Auth
else:
    CrtS3SigV4Auth = None

logger = logging.getLogger(__name__)

# The GetObject arguments a template request can carry (as these headers);
# a GET with any other argument always goes through botocore.
TEMPLATE_ARGUMENTS = {'Range': 'Range', 'IfMatch': 'If-Match'}
# Signature versions whose signing needs nothing but the request and the
# credentials (not S3 Express sessions, not SigV4a's multi-region keys).
TEMPLATE_SIGNATURES = ('s3v4', 'v4')
# What botocore's S3 signers and its check of a response's checksum read
# from a request's context (the rest is per call, or botocore's bookkeeping).
TEMPLATE_CONTEXT = ('client_config', 'checksum', 'has_streaming_input',
                    'payload_signing_enabled')
# The key of the parent's dry-run GetObject; it is never sent.
PROBE_KEY = 'ppcp-template-probe'


@dataclasses.dataclass
class ObjectBody:
    """A GetObject response, as much of it as a worker uses."""

    content_length: Optional[int]
    content_range: Optional[str]
    readinto: Callable
    release: Callable  # release(complete): reuse the connection or drop it
    # The hex MD5 the response's ETag says the whole body has, or None
    # (``checksums.etag_md5``).
    etag_md5: Optional[str] = None
    # The ETag and Last-Modified (the header's text): what a first GET
    # tells of an object of unknown size (``sizing``).
    etag: Optional[str] = None
    last_modified: Optional[str] = None
    # splice_to(pipe, most), where the kernel can move the body into a file
    # (``_splice_to``), or None.
    splice_to: Optional[Callable] = None
    # Whether botocore checks the body, as it is read, against a checksum
    # S3 stored for the whole object (``handle_checksum_body``).
    checksum_checked: bool = False


@dataclasses.dataclass(frozen=True)
class SignedRequest:
    """What ``before-sign`` shows of a request, before signing adds to it."""

    url: str
    headers: tuple
    context: dict
    signing_name: str
    region_name: str
    signature_version: str

    @classmethod
    def at_before_sign(cls, request, signing_name, region_name,
                       signature_version, **kwargs):
        return cls(request.url, tuple(request.headers.items()),
                   dict(request.context), signing_name, region_name,
                   signature_version)


@dataclasses.dataclass(frozen=True)
class RequestTemplate:
    url_prefix: str  # up to the percent-encoded key
    url_suffix: str  # after it (a query string, if any)
    headers: tuple  # (name, value) pairs, without per-object ones
    context: dict  # botocore's TEMPLATE_CONTEXT, incl. checksums to check
    signing_name: str
    region_name: str
    signature_version: str

    @classmethod
    def from_signed(cls, key, signed):
        """From a ``SignedRequest`` for a plain GET of ``key``; None when
        its signing needs more than the credentials."""
        signing = signed.context.get('signing', {})
        if (signed.signature_version not in TEMPLATE_SIGNATURES
                or signing.get('request_credentials')
                or signing.get('identity_cache') is not None):
            return None
        url = signed.url
        path_end = url.find('?') if '?' in url else len(url)
        encoded_key = percent_encode(key, safe='/~')
        if not url[:path_end].endswith(encoded_key):
            return None
        per_object = {h.lower() for h in TEMPLATE_ARGUMENTS.values()}
        return cls(
            url_prefix=url[:path_end - len(encoded_key)],
            url_suffix=url[path_end:],
            headers=tuple((name, value) for name, value in signed.headers
                          if name.lower() not in per_object),
            context={name: signed.context[name] for name in TEMPLATE_CONTEXT
                     if name in signed.context},
            signing_name=signing.get('signing_name') or signed.signing_name,
            region_name=signing.get('region') or signed.region_name,
            signature_version=signed.signature_version,
        )

    def request(self, key, extra_args):
        request = AWSRequest(
            method='GET', url=self.url(key),
            headers=dict(self.headers + object_headers(extra_args)))
        request.context = dict(self.context)
        return request

    def url(self, key):
        return (self.url_prefix + percent_encode(key, safe='/~')
                + self.url_suffix)

    def auth(self, credentials):
        """The signer botocore's ``RequestSigner.get_auth_instance`` would
        pick for this request, with ``credentials`` (botocore's, or None)."""
        cls = AUTH_TYPE_MAPS[self.signature_version]
        kwargs = {'credentials': None if credentials is None
                  else credentials.get_frozen_credentials()}
        if cls.REQUIRES_REGION:
            kwargs.update(region_name=self.region_name,
                          service_name=self.signing_name)
        return cls(**kwargs)


def object_headers(extra_args):
    """The headers of a template request's per-object arguments."""
    return tuple((TEMPLATE_ARGUMENTS[argument], value)
                 for argument, value in extra_args.items())


class CrtTemplateSigner:
    """A template's GETs signed as botocore's ``CrtS3SigV4Auth`` signs them,
    straight into the CRT's request.

    Why: botocore's signer builds an ``AWSRequest`` (its headers an
    ``email.message``), finds the host with ``urlsplit``, has the CRT call
    back into Python for each header and copies every header back: 158 µs
    of CPU per GET on this machine, against 45 µs for the same signature
    made here (3,000 signatures each, one process). What botocore decides
    from the request (the payload's hash, the host, which headers go
    unsigned) is the same for every GET of a template, so botocore's own
    signer decides it once, on the template's request.
    """

    def __init__(self, template, auth):
        probe = template.request(PROBE_KEY, {})
        auth._modify_request_before_signing(probe)
        if auth._is_streaming_checksum_payload(probe):
            self._payload = STREAMING_UNSIGNED_PAYLOAD_TRAILER
        elif auth._should_sha256_sign_payload(probe):
            self._payload = None  # the CRT hashes the (empty) body
        else:
            self._payload = UNSIGNED_PAYLOAD
        self._body_header = (
            awscrt.auth.AwsSignedBodyHeaderType.X_AMZ_CONTENT_SHA_256
            if auth._should_add_content_sha256_header(self._payload)
            else awscrt.auth.AwsSignedBodyHeaderType.NONE)
        self._signed, self._unsigned = [], []
        for name, value in probe.headers.items():
            (self._signed if auth._should_sign_header(name)
             else self._unsigned).append((name, value))
        self._region = template.region_name
        self._service = template.signing_name
        parts = urlsplit(template.url_prefix + template.url_suffix)
        self._path_prefix = parts.path
        self._query = f'?{parts.query}' if parts.query else ''
        self._provider = (None, None)  # (frozen credentials, CRT provider)

    @classmethod
    def for_template(cls, template):
        """The signer of ``template``'s GETs; None if botocore would not
        sign them with ``CrtS3SigV4Auth``."""
        if (CrtS3SigV4Auth is None or AUTH_TYPE_MAPS.get(
                template.signature_version) is not CrtS3SigV4Auth):
            return None
        return cls(template, template.auth(None))

    def headers(self, key, extra_args, credentials):
        """The headers of ``key``'s GET, signed now with ``credentials``."""
        request = awscrt.http.HttpRequest(
            'GET',
            self._path_prefix + percent_encode(key, safe='/~') + self._query,
            awscrt.http.HttpHeaders(
                self._signed + list(object_headers(extra_args))))
        config = awscrt.auth.AwsSigningConfig(
            algorithm=awscrt.auth.AwsSigningAlgorithm.V4,
            signature_type=awscrt.auth.AwsSignatureType.HTTP_REQUEST_HEADERS,
            credentials_provider=self._provider_for(
                credentials.get_frozen_credentials()),
            region=self._region, service=self._service,
            date=get_current_datetime(remove_tzinfo=False),
            use_double_uri_encode=CrtS3SigV4Auth._USE_DOUBLE_URI_ENCODE,
            should_normalize_uri_path=(
                CrtS3SigV4Auth._SHOULD_NORMALIZE_URI_PATH),
            signed_body_value=self._payload,
            signed_body_header_type=self._body_header)
        awscrt.auth.aws_sign_request(request, config).result()
        return list(request.headers) + self._unsigned

    def _provider_for(self, frozen):
        known, provider = self._provider
        if known != frozen:
            provider = awscrt.auth.AwsCredentialsProvider.new_static(
                access_key_id=frozen.access_key,
                secret_access_key=frozen.secret_key,
                session_token=frozen.token)
            self._provider = (frozen, provider)
        return provider


@dataclasses.dataclass(frozen=True)
class HttpSessionSettings:
    """The arguments a client's ``URLLib3Session`` was built with, so that a
    worker sends as the client would without building it: on ``http11``
    with the same verification, timeouts, pool size and socket options, or
    on an equal ``URLLib3Session`` where only urllib3 will do."""

    verify: object
    proxies: dict
    proxies_config: dict
    timeout: object  # seconds, or (connect, read)
    max_pool_connections: int
    socket_options: list
    client_cert: object  # None, a path, or (cert path, key path)

    @classmethod
    def of_client(cls, client):
        session = client._endpoint.http_session
        timeout = session._timeout
        if not isinstance(timeout, (int, float)):
            timeout = (timeout.connect_timeout, timeout.read_timeout)
        cert = session._cert_file
        if session._key_file is not None:
            cert = (cert, session._key_file)
        return cls(
            verify=session._verify,
            proxies=dict(session._proxy_config._proxies),
            proxies_config=dict(session._proxy_config.settings),
            timeout=timeout,
            max_pool_connections=session._max_pool_connections,
            socket_options=list(session._socket_options),
            client_cert=cert,
        )

    def create_session(self):
        return URLLib3Session(**dataclasses.asdict(self))

    def create_pool(self):
        """The lean client's pool (``http11``), for where it can go."""
        return http11.ConnectionPool(
            verify=self.verify, timeout=self.timeout,
            max_idle=self.max_pool_connections,
            socket_options=self.socket_options)

    def needs_urllib3(self, url):
        """Whether requests to ``url`` go through a proxy or present a
        client certificate, which only ``URLLib3Session`` does."""
        proxies = ProxyConfiguration(proxies=self.proxies,
                                     proxies_settings=self.proxies_config)
        return (self.client_cert is not None
                or proxies.proxy_url_for(url) is not None)

    def with_room_for(self, connections):
        """The same settings with a pool that keeps a connection for each
        of ``connections`` threads (a full pool closes what it cannot keep,
        and each GET would open a new one)."""
        return dataclasses.replace(self, max_pool_connections=max(
            self.max_pool_connections, connections))


class TemplateLearner:
    """In the parent: a bucket's template, from a GetObject that botocore
    builds and signs with the client the workers would have built, and that
    ``before-send`` answers with an empty 200 so that it is never sent."""

    def __init__(self, client):
        self._client = client
        self._signed = None
        events = client.meta.events
        events.register('before-sign.s3.GetObject', self._remember_signing)
        events.register('before-send.s3.GetObject', self._answer)

    def learn(self, bucket):
        logger.debug('Learning the GetObject request for bucket %s (built, '
                     'not sent)', bucket)
        self._signed = None
        try:
            self._client.get_object(Bucket=bucket, Key=PROBE_KEY)
        except Exception:
            # No credentials, a bucket name botocore rejects, ...: the
            # workers go through botocore, which reports it for each file.
            logger.debug('No GetObject template for %s', bucket,
                         exc_info=True)
            return None
        if self._signed is None:
            return None
        return RequestTemplate.from_signed(PROBE_KEY, self._signed)

    def _remember_signing(self, **kwargs):
        self._signed = SignedRequest.at_before_sign(**kwargs)

    @staticmethod
    def _answer(request, **kwargs):
        return AWSResponse(request.url, 200, {}, None)


class GetObjectSender:
    """A worker's GetObject: direct on the bucket's template, or through
    botocore.

    :param create_client: builds the worker's botocore client; called when
        botocore is first needed.
    :param find_template: the parent's template for a bucket, or None.
    :param credentials: botocore credentials to sign direct GETs with;
    :param http_settings: the ``HttpSessionSettings`` to send them with.
        Without credentials (unsigned requests, or none to be found),
        every GET goes through botocore.

    The threads of a worker share one sender, so that they share one
    connection pool and build at most one client.
    """

    def __init__(self, create_client, find_template=None, credentials=None,
                 http_settings=None):
        self._find_template = find_template
        self._direct = (None if credentials is None
                        else DirectSender(credentials, http_settings))
        self._botocore = BotocoreSender(create_client)
        # bucket: (its template, the template's CrtTemplateSigner or None),
        # or None: no template
        self._templates = {}

    def get_object(self, bucket, key, extra_args):
        """``key``'s body as an ``ObjectBody``. A plain GET (no argument
        but ``Range`` and ``IfMatch``) of a bucket with a template goes
        direct; whatever that does not settle goes to botocore, with the
        direct GET's outcome as botocore's first attempt; and a plain GET
        that botocore sends teaches the bucket's template."""
        plain = (self._direct is not None
                 and extra_args.keys() <= TEMPLATE_ARGUMENTS.keys())
        learned = self._template_for(bucket) if plain else None
        first_attempt = None
        if learned is not None:
            template, signer = learned
            try:
                response = self._direct.send(template, signer, key,
                                             extra_args)
            except (HTTPClientError, ConnectionError) as e:
                first_attempt = e
            except http11.UnframedResponse:
                pass  # botocore sends this GET itself
            else:
                if response.status_code in (200, 206):
                    return _direct_body(response, template)
                first_attempt = response
        response, last_signed = self._botocore.get_object(
            bucket, key, extra_args, first_attempt)
        if plain and last_signed is not None:
            template = RequestTemplate.from_signed(key, last_signed)
            if template is not None:
                self._learn(bucket, template)
        return _object_body(response['Body'], response.get('ContentLength'),
                            response.get('ContentRange'), etag_md5(
                                response.get('ETag'),
                                response.get('ServerSideEncryption'),
                                response.get('SSECustomerAlgorithm')),
                            response.get('ETag'),
                            response.get('LastModified'))

    def _template_for(self, bucket):
        """(template, signer) of ``bucket``, or None."""
        if bucket not in self._templates and self._find_template is not None:
            self._learn(bucket, self._find_template(bucket))
        return self._templates.get(bucket)

    def _learn(self, bucket, template):
        """Keep ``template`` with its signer, as one value: a thread never
        sees one template with another's signer."""
        self._templates[bucket] = None if template is None else (
            template, CrtTemplateSigner.for_template(template))


class DirectSender:
    """Sends a template's GET without botocore: signed with the worker's
    credentials, on ``http11``'s lean connections, or on a
    ``URLLib3Session`` like the client's where only urllib3 will do (a
    proxy, a client certificate)."""

    def __init__(self, credentials, http_settings):
        self._credentials = credentials
        self._http_settings = http_settings
        self._pool = _CreatedOnce(http_settings.create_pool)
        self._urllib3_session = _CreatedOnce(http_settings.create_session)
        self._urllib3_for = {}  # url prefix: whether it needs urllib3

    def send(self, template, signer, key, extra_args):
        """``key``'s GET as an ``AWSResponse`` whose body is not read yet;
        signed by ``signer`` (a ``CrtTemplateSigner``) where there is one,
        by botocore's signer otherwise."""
        needs_urllib3 = self._needs_urllib3(template.url_prefix)
        if signer is not None and not needs_urllib3:
            url = template.url(key)
            headers = signer.headers(key, extra_args, self._credentials)
        else:
            request = template.request(key, extra_args)
            template.auth(self._credentials).add_auth(request)
            if needs_urllib3:
                prepared = request.prepare()
                prepared.stream_output = True
                return self._urllib3_session.get().send(prepared)
            url, headers = request.url, request.headers.items()
        response = self._pool.get().get(url, headers)
        return AWSResponse(url, response.status, response.headers,
                           response.body)

    def _needs_urllib3(self, url_prefix):
        needs = self._urllib3_for.get(url_prefix)
        if needs is None:
            needs = self._urllib3_for[url_prefix] = (
                self._http_settings.needs_urllib3(url_prefix))
        return needs


class BotocoreSender:
    """GetObject through the worker's botocore client, built at first use.

    A direct GET that did not succeed is not sent again: its outcome (the
    response, or the error of a send that failed) stands for botocore's
    first attempt, handed over in ``before-send`` as botocore's Stubber
    does, so that botocore's retries, redirects and error messages apply
    with the same number of requests as for ``aws s3 cp``. Each call
    also says what botocore signed last, the request that succeeded (after
    any region redirect), for the caller to learn the bucket's template
    from. Both are kept per thread, for the handlers of that thread's call.
    """

    def __init__(self, create_client):
        self._create_client = create_client
        self._client = _CreatedOnce(self._create_hooked_client)
        self._call = threading.local()

    def get_object(self, bucket, key, extra_args, first_attempt=None):
        """botocore's response, and the ``SignedRequest`` of its last
        attempt (None if it signed none)."""
        self._call.handoff = first_attempt
        self._call.last_signed = None
        try:
            response = self._client.get().get_object(
                Bucket=bucket, Key=key, **extra_args)
        finally:
            self._call.handoff = None
        return response, self._call.last_signed

    def _create_hooked_client(self):
        client = self._create_client()
        events = client.meta.events
        events.register('before-sign.s3.GetObject', self._remember_signing)
        events.register('before-send.s3.GetObject', self._hand_off)
        return client

    def _remember_signing(self, **kwargs):
        self._call.last_signed = SignedRequest.at_before_sign(**kwargs)

    def _hand_off(self, request, **kwargs):
        """The first attempt's outcome, if the direct GET had one; later
        attempts are sent as usual."""
        outcome = getattr(self._call, 'handoff', None)
        self._call.handoff = None
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class _CreatedOnce:
    """A value created by ``create()`` at its first use: once, whichever of
    the worker's threads gets there first."""

    def __init__(self, create):
        self._create = create
        self._value = None
        self._lock = threading.Lock()

    def get(self):
        value = self._value
        if value is None:
            with self._lock:
                value = self._value
                if value is None:
                    value = self._value = self._create()
        return value


def _direct_body(response, template):
    """The body of a direct GET as botocore would return it: checked as it
    is read when botocore would check it (``handle_checksum_body``, with the
    checksum algorithms botocore chose for the template's request)."""
    headers = response.headers
    parsed = {'headers': headers, 'context': {}}
    handle_checksum_body(response, parsed, template.context,
                         _STREAMING_GET_OBJECT)
    length = headers.get('Content-Length')
    length = None if length is None else int(length)
    body = parsed.get('body')
    if body is None:
        body = StreamingBody(response.raw, length)
    return _object_body(body, length, headers.get('Content-Range'), etag_md5(
        headers.get('ETag'), headers.get('x-amz-server-side-encryption'),
        headers.get('x-amz-server-side-encryption-customer-algorithm')),
        headers.get('ETag'), headers.get('Last-Modified'))


class _StreamingOperation:
    """All ``handle_checksum_body`` asks of GetObject's operation model."""

    has_streaming_output = True


_STREAMING_GET_OBJECT = _StreamingOperation()


def _object_body(body, content_length, content_range, md5=None, etag=None,
                 last_modified=None):
    return ObjectBody(content_length, content_range, _fastest_readinto(body),
                      lambda complete: _release_or_close(body, complete),
                      md5, etag, last_modified, splice_to=_splice_to(body),
                      checksum_checked=isinstance(body, StreamingChecksumBody))


def _fastest_readinto(body):
    """Read a plain body straight from its connection: ``http11``'s body,
    or ``http.client``'s under urllib3's (whose ``readinto`` reads into a
    new bytes object, then copies). A body that botocore checks as it is
    read (a checksum) keeps its own ``readinto``, so the check still
    happens."""
    if type(body) is StreamingBody:
        raw = getattr(body, '_raw_stream', None)
        if isinstance(raw, http11.Body):
            return raw.readinto
        fp = getattr(raw, '_fp', None)
        if fp is not None and hasattr(fp, 'readinto'):
            return fp.readinto
    return body.readinto


def _splice_to(body):
    """``splice_to`` of a body that ``_fastest_readinto`` reads straight
    from ``http11`` (nothing of botocore's checks it) over plain HTTP, where
    the system splices (``splicing``); None for any other."""
    raw = getattr(body, '_raw_stream', None)
    if (splicing.AVAILABLE and type(body) is StreamingBody
            and isinstance(raw, http11.Body) and raw.spliceable):
        return raw.splice_to
    return None


def _release_or_close(body, complete):
    """Give a fully read connection back to its pool; drop any other."""
    raw = getattr(body, '_raw_stream', None)
    if isinstance(raw, http11.Body):
        if complete:
            raw.release()
        else:
            raw.close()
        return
    fp = getattr(raw, '_fp', None)
    if complete and fp is not None and fp.isclosed() and hasattr(
            raw, 'release_conn'):
        raw.release_conn()
    else:
        body.close()
