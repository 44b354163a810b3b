"""A fault-injecting HTTP/1.1 reverse proxy for tests (standard library only).

The proxy listens on 127.0.0.1, forwards every request (any method, path,
query, headers and body; keep-alive supported on the client side) to one
upstream server -- the moto S3 server in this project's tests -- and streams
the upstream response back.  Tests add :class:`Rule` objects to inject faults
into matching requests::

    proxy = FaultProxy('http://127.0.0.1:5000')
    proxy.start()
    proxy.add_rule(Rule(method='GET', has_range=True, times=1,
                        reset_after_bytes=1024))
    ...                       # point a client at proxy.endpoint_url
    proxy.stop()

Rules are checked in the order they were added; the first rule that matches
(and has not used up its ``times``) fires, and only that rule.  A request that
matches no rule is forwarded unchanged.

Every request the proxy receives is appended to :attr:`FaultProxy.requests`
as a :class:`RequestRecord` ``(method, path, query, headers)`` *before* any
rule runs, so faulted requests are logged too.

Upstream connections are opened per request with ``Connection: close``; the
client-facing side keeps connections alive (HTTP/1.1) unless a rule closes
the connection (``reset_after_bytes``, ``truncate_after_bytes``) or the
client asks for ``Connection: close``.
"""
import collections.abc
import http.client
import http.server
import logging
import re
import socket
import socketserver
import ssl
import struct
import threading
import time
import urllib.parse
from xml.sax.saxutils import escape as _xml_escape

__all__ = ['FaultProxy', 'Rule', 'RequestRecord', 'Headers', 's3_error_body']

logger = logging.getLogger(__name__)

_CHUNK = 64 * 1024

# Hop-by-hop headers (RFC 9110 section 7.6.1) plus the ones the proxy
# re-creates itself; never copied from one side to the other.
_HOP_BY_HOP = frozenset(h.lower() for h in (
    'Connection', 'Keep-Alive', 'Proxy-Connection', 'Proxy-Authenticate',
    'Proxy-Authorization', 'TE', 'Trailer', 'Transfer-Encoding', 'Upgrade',
))
_NOT_FORWARDED_REQUEST = _HOP_BY_HOP | {'content-length', 'expect'}
_NOT_FORWARDED_RESPONSE = _HOP_BY_HOP | {'content-length'}

_RANGE_RE = re.compile(r'^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$', re.I)

_SENTINEL = object()


class Headers(collections.abc.Mapping):
    """Read-only, case-insensitive snapshot of request headers.

    ``headers['if-match']``, ``'If-Match' in headers`` and
    ``headers.get('RANGE')`` all work.  Repeated headers are joined with
    ``', '`` for item access; :meth:`get_all` returns every value and
    :attr:`raw` the original ``(name, value)`` pairs in order.
    """

    def __init__(self, pairs=()):
        if isinstance(pairs, collections.abc.Mapping):
            pairs = pairs.items()
        self.raw = tuple((str(k), str(v)) for k, v in pairs)
        merged = {}
        for name, value in self.raw:
            key = name.lower()
            if key in merged:
                merged[key] = (merged[key][0], merged[key][1] + ', ' + value)
            else:
                merged[key] = (name, value)
        self._merged = merged

    def __getitem__(self, name):
        return self._merged[name.lower()][1]

    def __contains__(self, name):
        return isinstance(name, str) and name.lower() in self._merged

    def __iter__(self):
        return (original for original, _ in self._merged.values())

    def __len__(self):
        return len(self._merged)

    def get_all(self, name):
        name = name.lower()
        return [v for k, v in self.raw if k.lower() == name]

    def __repr__(self):
        return 'Headers(%r)' % (dict(self.items()),)


class RequestRecord(collections.namedtuple(
        'RequestRecord', ['method', 'path', 'query', 'headers'])):
    """One request seen by the proxy.

    ``method``  -- e.g. ``'GET'``;
    ``path``    -- the URL path as sent (percent-encoded), e.g. ``'/bkt/a%20b'``;
    ``query``   -- the raw query string without ``?`` (``''`` if none);
    ``headers`` -- a case-insensitive :class:`Headers` snapshot as received
    from the client (before any rule such as ``drop_range`` changed them).
    """

    __slots__ = ()

    @property
    def key_path(self):
        """The URL path percent-decoded, e.g. ``'/bkt/a b'``."""
        return urllib.parse.unquote(self.path)

    @property
    def params(self):
        """The query string parsed into ``{name: [values...]}``."""
        return urllib.parse.parse_qs(self.query, keep_blank_values=True)

    @property
    def range(self):
        """``(start, end)`` of a ``Range: bytes=start-end`` header, else None.

        ``start`` or ``end`` is None when omitted (``bytes=100-`` or
        ``bytes=-500``).
        """
        return _parse_range(self.headers.get('Range'))

    @property
    def range_start(self):
        rng = self.range
        return None if rng is None else rng[0]


def _parse_range(value):
    if value is None:
        return None
    m = _RANGE_RE.match(value)
    if not m:
        return None
    start, end = m.groups()
    return (int(start) if start else None, int(end) if end else None)


def s3_error_body(code, message, request_id='x'):
    """The XML body S3 sends with an error status, as bytes."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Error><Code>%s</Code><Message>%s</Message>'
        '<RequestId>%s</RequestId></Error>' % (
            _xml_escape(str(code)), _xml_escape(str(message)),
            _xml_escape(str(request_id)))
    ).encode('utf-8')


class Rule:
    """A request matcher plus the fault to inject when it matches.

    Matcher (every given condition must hold; ``None`` means "don't care"):

    ``method``       -- HTTP method, case-insensitive (``'GET'``, ``'HEAD'``...).
    ``path``         -- regex searched (``re.search``) in the percent-decoded
                        URL path, e.g. ``r'^/my-bucket/big\\.bin$'``.
    ``key``          -- substring of the percent-decoded URL path.
    ``query``        -- regex searched in the raw query string
                        (e.g. ``'partNumber='``, ``'list-type=2'``).
    ``has_range``    -- True: only requests with a Range header; False: only
                        requests without one.
    ``range_start``  -- only requests whose ``Range: bytes=START-...`` has
                        exactly this START (implies a Range header).
    ``times``        -- fire for at most this many matching requests, then stop
                        matching (later requests fall through to later rules or
                        are forwarded unchanged); ``None`` = always.
    ``name``         -- optional label, shown in repr and logs.

    Actions (applied in this order; at least one must be given):

    ``callback``     -- ``fn(record)`` with the :class:`RequestRecord`, called
                        before anything else (e.g. to overwrite the object in S3
                        mid-download).  If it raises, the exception is stored
                        in ``FaultProxy.errors`` and the client gets a 500.
    ``delay_seconds`` -- wait this long before answering/forwarding.
    ``status``       -- ``(http_code, s3_error_code, message)``: answer directly
                        with an S3 XML error; nothing is forwarded.  Cannot be
                        combined with the forwarding faults below.
    ``drop_range``   -- remove the Range header before forwarding (upstream then
                        answers 200 with the whole object).
    ``reset_before_response`` -- abort the connection with a TCP RST before
                        answering anything (nothing is forwarded).
    ``reset_after_bytes`` -- forward, send the upstream status line, headers and
                        the first N body bytes, then abort the connection with a
                        TCP RST (SO_LINGER 0).
    ``truncate_after_bytes`` -- forward, send the upstream headers (with the full
                        Content-Length), the first N body bytes, then close
                        cleanly (FIN).
    ``shorten_body_by`` -- forward, announce a Content-Length N bytes short
                        of upstream's and send only that many body bytes (a
                        consistent but short response), then close.
    ``flip_byte_at`` -- forward, with the body byte at this offset (of
                        the response's body, counted from 0) inverted
                        (XOR 0xFF): right length, wrong bytes.
    ``throttle_bytes_per_second`` -- stream the response body at about R bytes/s
                        (may be combined with reset/truncate).

    Counters: :attr:`fired` (how many times the rule fired) and
    :attr:`records` (the :class:`RequestRecord` of each firing).
    """

    def __init__(self, method=None, path=None, key=None, query=None,
                 has_range=None, range_start=None, times=None, *,
                 status=None, reset_after_bytes=None,
                 truncate_after_bytes=None, drop_range=False,
                 delay_seconds=None, throttle_bytes_per_second=None,
                 callback=None, reset_before_response=False,
                 shorten_body_by=None, flip_byte_at=None, name=None):
        self.method = method.upper() if method else None
        self.path = path
        self._path_re = re.compile(path) if path is not None else None
        self.key = key
        self.query = query
        self._query_re = re.compile(query) if query is not None else None
        self.has_range = has_range
        self.range_start = range_start
        if times is not None and times < 0:
            raise ValueError('times must be >= 0 or None')
        self.times = times
        self.name = name

        if status is not None:
            if len(status) != 3:
                raise ValueError(
                    'status must be (http_code, s3_error_code, message)')
            status = (int(status[0]), str(status[1]), str(status[2]))
        self.status = status
        self.reset_after_bytes = reset_after_bytes
        self.truncate_after_bytes = truncate_after_bytes
        self.drop_range = bool(drop_range)
        self.delay_seconds = delay_seconds
        self.throttle_bytes_per_second = throttle_bytes_per_second
        self.callback = callback
        self.reset_before_response = bool(reset_before_response)
        self.shorten_body_by = shorten_body_by
        self.flip_byte_at = flip_byte_at

        for attr in ('reset_after_bytes', 'truncate_after_bytes',
                     'shorten_body_by', 'flip_byte_at'):
            value = getattr(self, attr)
            if value is not None and value < 0:
                raise ValueError('%s must be >= 0' % attr)
        if throttle_bytes_per_second is not None and throttle_bytes_per_second <= 0:
            raise ValueError('throttle_bytes_per_second must be > 0')
        if delay_seconds is not None and delay_seconds < 0:
            raise ValueError('delay_seconds must be >= 0')
        if reset_after_bytes is not None and truncate_after_bytes is not None:
            raise ValueError(
                'reset_after_bytes and truncate_after_bytes are exclusive')
        if status is not None and (
                reset_after_bytes is not None
                or truncate_after_bytes is not None or self.drop_range
                or throttle_bytes_per_second is not None
                or shorten_body_by is not None
                or flip_byte_at is not None):
            raise ValueError(
                'status answers without forwarding; it cannot be combined '
                'with reset/truncate/drop_range/throttle')
        if not any((status is not None, reset_after_bytes is not None,
                    truncate_after_bytes is not None, self.drop_range,
                    delay_seconds is not None,
                    throttle_bytes_per_second is not None,
                    callback is not None, self.reset_before_response,
                    shorten_body_by is not None,
                    flip_byte_at is not None)):
            raise ValueError('a Rule needs at least one action')

        self.fired = 0
        self.records = []

    # Called by FaultProxy with its lock held.
    def _matches(self, record):
        if self.times is not None and self.fired >= self.times:
            return False
        if self.method is not None and record.method.upper() != self.method:
            return False
        decoded = record.key_path
        if self._path_re is not None and not self._path_re.search(decoded):
            return False
        if self.key is not None and self.key not in decoded:
            return False
        if self._query_re is not None and not self._query_re.search(record.query):
            return False
        has_range = 'Range' in record.headers
        if self.has_range is not None and bool(self.has_range) != has_range:
            return False
        if self.range_start is not None and record.range_start != self.range_start:
            return False
        return True

    @property
    def exhausted(self):
        return self.times is not None and self.fired >= self.times

    def __repr__(self):
        parts = []
        for attr in ('name', 'method', 'path', 'key', 'query', 'has_range',
                     'range_start', 'times', 'status', 'reset_after_bytes',
                     'truncate_after_bytes', 'shorten_body_by',
                     'flip_byte_at', 'delay_seconds', 'throttle_bytes_per_second',
                     'callback'):
            value = getattr(self, attr)
            if value is not None:
                parts.append('%s=%r' % (attr, value))
        if self.drop_range:
            parts.append('drop_range=True')
        parts.append('fired=%d' % self.fired)
        return 'Rule(%s)' % ', '.join(parts)


class _ClientGone(Exception):
    """The client side of the connection went away mid-response."""


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'FaultProxy/1.0'
    # Idle keep-alive connections are dropped after this long.
    timeout = 60

    # -- plumbing -----------------------------------------------------------
    def setup(self):
        super().setup()
        self.server.proxy._register_connection(self.connection)

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.proxy._unregister_connection(self.connection)

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ConnectionError, _ClientGone, socket.timeout, OSError) as e:
            logger.debug('fault proxy: client connection ended: %r', e)
            self.close_connection = True

    def log_message(self, format, *args):  # noqa: A002 (stdlib signature)
        logger.debug('fault proxy: %s - %s', self.address_string(),
                     format % args)

    def log_error(self, format, *args):  # noqa: A002
        logger.debug('fault proxy error: %s - %s', self.address_string(),
                     format % args)

    def __getattr__(self, name):
        # Any method: do_GET, do_PUT, do_POST, do_DELETE, do_HEAD, ...
        if name.startswith('do_'):
            return self._proxy_request
        raise AttributeError(name)

    # -- request handling ---------------------------------------------------
    def _read_request_body(self):
        te = self.headers.get('Transfer-Encoding', '')
        if 'chunked' in te.lower():
            parts = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise _ClientGone('EOF in chunked request body')
                size = int(line.split(b';', 1)[0].strip() or b'0', 16)
                if size == 0:
                    # trailers, up to the blank line
                    while True:
                        trailer = self.rfile.readline(65537)
                        if trailer in (b'\r\n', b'\n', b''):
                            break
                    break
                data = self.rfile.read(size)
                if len(data) != size:
                    raise _ClientGone('short chunk in request body')
                parts.append(data)
                self.rfile.readline(3)  # CRLF after the chunk
            return b''.join(parts)
        length = self.headers.get('Content-Length')
        if length is None:
            return None
        length = int(length)
        body = self.rfile.read(length) if length else b''
        if len(body) != length:
            raise _ClientGone('short request body')
        return body

    def _proxy_request(self):
        proxy = self.server.proxy
        split = urllib.parse.urlsplit(self.path)
        path = split.path or '/'
        if not self.path.startswith('/'):
            # absolute-form request target (a client using us as a proxy)
            target = path + ('?' + split.query if split.query else '')
        else:
            target = self.path
        record = RequestRecord(self.command, path, split.query,
                               Headers(self.headers.items()))
        body = self._read_request_body()
        rule = proxy._log_and_match(record)
        if rule is not None:
            logger.debug('fault proxy: %s %s -> %r', record.method,
                         self.path, rule)

        if rule is not None and rule.callback is not None:
            try:
                rule.callback(record)
            except Exception as e:  # noqa: BLE001 - surfaced via proxy.errors
                logger.debug('fault proxy: callback failed', exc_info=True)
                proxy._record_error(e)
                self._send_error_response(
                    500, 'InternalError', 'fault proxy callback failed: %r' % (e,))
                return

        if rule is not None and rule.delay_seconds:
            if proxy._stopping.wait(rule.delay_seconds):
                self.close_connection = True
                return

        if rule is not None and rule.reset_before_response:
            self._abort_connection()
            return

        if rule is not None and rule.status is not None:
            code, s3_code, message = rule.status
            self._send_error_response(code, s3_code, message)
            return

        headers = [(k, v) for k, v in self.headers.items()
                   if k.lower() not in _NOT_FORWARDED_REQUEST]
        if rule is not None and rule.drop_range:
            headers = [(k, v) for k, v in headers if k.lower() != 'range']
        self._forward(target, headers, body, rule)

    def _send_error_response(self, code, s3_code, message):
        body = s3_error_body(s3_code, message)
        self.send_response(code)
        self.send_header('Content-Type', 'application/xml')
        self.send_header('Content-Length', str(len(body)))
        self.send_header('x-amz-request-id', 'x')
        if self.close_connection:
            self.send_header('Connection', 'close')
        self.end_headers()
        if self.command != 'HEAD':
            self._write(body)

    def _forward(self, target, headers, body, rule):
        proxy = self.server.proxy
        conn = http.client.HTTPConnection(
            proxy.upstream_host, proxy.upstream_port, timeout=proxy.upstream_timeout)
        try:
            try:
                conn.putrequest(self.command, target, skip_host=True,
                                skip_accept_encoding=True)
                if 'Host' not in self.headers:
                    conn.putheader('Host', '%s:%d' % (proxy.upstream_host,
                                                      proxy.upstream_port))
                for name, value in headers:
                    conn.putheader(name, value)
                if body is not None:
                    conn.putheader('Content-Length', str(len(body)))
                conn.putheader('Connection', 'close')
                conn.endheaders(body if body else None)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                logger.debug('fault proxy: upstream failed', exc_info=True)
                proxy._record_error(e)
                self._send_error_response(
                    502, 'BadGateway', 'fault proxy: upstream failed: %r' % (e,))
                return
            self._relay_response(resp, rule)
        finally:
            conn.close()

    def _relay_response(self, resp, rule):
        reset_after = rule.reset_after_bytes if rule is not None else None
        truncate_after = rule.truncate_after_bytes if rule is not None else None
        rate = rule.throttle_bytes_per_second if rule is not None else None
        shorten_by = rule.shorten_body_by if rule is not None else None
        self._flip_at = rule.flip_byte_at if rule is not None else None

        no_body = (self.command == 'HEAD' or resp.status in (204, 304)
                   or 100 <= resp.status < 200)
        length = resp.getheader('Content-Length')
        prebuffered = None
        if no_body:
            total = None
        elif length is not None and not resp.chunked:
            total = int(length)
        else:
            # chunked or close-delimited upstream body: buffer it so the
            # client gets a Content-Length (and keep-alive keeps working).
            prebuffered = resp.read()
            total = len(prebuffered)
        if total is not None and shorten_by is not None:
            total = max(0, total - shorten_by)

        self.send_response_only(resp.status, resp.reason)
        for name, value in resp.getheaders():
            if name.lower() not in _NOT_FORWARDED_RESPONSE:
                self.send_header(name, value)
        if no_body:
            if length is not None:
                self.send_header('Content-Length', length)
        else:
            self.send_header('Content-Length', str(total))
        closing = (reset_after is not None or truncate_after is not None
                   or shorten_by is not None or self.close_connection)
        if closing:
            self.close_connection = True
            self.send_header('Connection', 'close')
        self.end_headers()
        self.wfile.flush()

        limit = None
        if reset_after is not None:
            limit = reset_after
        elif truncate_after is not None:
            limit = truncate_after

        sent = 0
        if not no_body:
            if prebuffered is not None:
                source = _BytesSource(prebuffered)
            else:
                source = resp
            sent = self._copy_body(source, total, limit, rate)

        if reset_after is not None:
            logger.debug('fault proxy: RST after %d body bytes', sent)
            self._abort_connection()
        elif truncate_after is not None:
            logger.debug('fault proxy: FIN after %d of %d body bytes',
                         sent, total)
            self._close_connection_cleanly()

    def _copy_body(self, source, total, limit, rate):
        """Copy up to ``limit`` (or all ``total``) body bytes to the client."""
        proxy = self.server.proxy
        want = total if limit is None else min(limit, total)
        sent = 0
        started = time.monotonic()
        chunk_size = _CHUNK
        if rate is not None:
            # ~20 writes per second, at least 1 byte each
            chunk_size = max(1, min(_CHUNK, int(rate / 20) or 1))
        while sent < want:
            if proxy._stopping.is_set():
                raise _ClientGone('proxy stopping')
            data = source.read(min(chunk_size, want - sent))
            if not data:
                # upstream ended early: pass the short body on, then close
                self.close_connection = True
                break
            flip_at = getattr(self, '_flip_at', None)
            if flip_at is not None and sent <= flip_at < sent + len(data):
                data = bytearray(data)
                data[flip_at - sent] ^= 0xFF
                data = bytes(data)
            self._write(data)
            sent += len(data)
            if rate is not None:
                due = started + sent / float(rate)
                pause = due - time.monotonic()
                if pause > 0 and proxy._stopping.wait(pause):
                    raise _ClientGone('proxy stopping')
        return sent

    def _write(self, data):
        try:
            self.wfile.write(data)
        except OSError as e:
            raise _ClientGone(repr(e)) from e

    def _abort_connection(self):
        """Close the client socket with RST instead of FIN."""
        self.close_connection = True
        sock = self.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack('ii', 1, 0))
        except OSError:
            pass
        # The makefile() reader keeps the fd alive; close it first so
        # sock.close() really closes the descriptor (and sends the RST).
        try:
            self.rfile.close()
        except OSError:
            pass
        try:
            sock.close()
        except OSError:
            pass

    def _close_connection_cleanly(self):
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class _BytesSource:
    def __init__(self, data):
        self._data = memoryview(data)
        self._pos = 0

    def read(self, n):
        chunk = self._data[self._pos:self._pos + n]
        self._pos += len(chunk)
        return bytes(chunk)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # FaultProxy.stop() joins the handler threads itself, with a timeout.
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address, proxy):
        self.proxy = proxy
        super().__init__(address, _Handler)

    def get_request(self):
        """A connection, with TLS if the proxy terminates it (its handshake
        runs in the connection's own thread, at its first read)."""
        sock, address = super().get_request()
        if self.proxy.tls_context is not None:
            sock = self.proxy.tls_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def server_bind(self):
        # Skip HTTPServer.server_bind's socket.getfqdn() (a DNS lookup).
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = host
        self.server_port = port

    def process_request(self, request, client_address):
        t = threading.Thread(target=self.process_request_thread,
                             args=(request, client_address),
                             name='fault-proxy-conn', daemon=True)
        self.proxy._register_thread(t)
        t.start()

    def handle_error(self, request, client_address):
        logger.debug('fault proxy: error handling %s', client_address,
                     exc_info=True)


class FaultProxy:
    """The proxy.  ``FaultProxy(upstream_url).start()``; ``.stop()`` when done.

    Public attributes: :attr:`endpoint_url` (``http://127.0.0.1:PORT``, or
    ``https://`` with ``tls=(cert file, key file)``; valid after
    :meth:`start`), :attr:`port`, :attr:`upstream_url`,
    :attr:`requests` (snapshot list of :class:`RequestRecord`),
    :attr:`rules` (snapshot list), :attr:`errors` (exceptions raised by
    callbacks or upstream failures).
    """

    def __init__(self, upstream_url, host='127.0.0.1', port=0,
                 upstream_timeout=60.0, tls=None):
        split = urllib.parse.urlsplit(upstream_url)
        if split.scheme != 'http' or not split.hostname:
            raise ValueError('upstream_url must be http://host:port, got %r'
                             % (upstream_url,))
        self.upstream_url = upstream_url.rstrip('/')
        self.upstream_host = split.hostname
        self.upstream_port = split.port or 80
        self.upstream_timeout = upstream_timeout
        # tls=(certificate file, key file): clients speak HTTPS to the
        # proxy, which speaks plain HTTP upstream.
        self.tls_context = None
        if tls is not None:
            self.tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls_context.load_cert_chain(*tls)
        self.host = host
        self._requested_port = port
        self._lock = threading.Lock()
        self._rules = []
        self._requests = []
        self._errors = []
        self._connections = set()
        self._threads = []
        self._stopping = threading.Event()
        self._server = None
        self._serve_thread = None
        self.port = None

    # -- lifecycle ----------------------------------------------------------
    def start(self):
        if self._server is not None:
            raise RuntimeError('proxy already started')
        self._stopping.clear()
        self._server = _Server((self.host, self._requested_port), self)
        self.port = self._server.server_address[1]
        self._serve_thread = threading.Thread(
            target=self._server.serve_forever, kwargs={'poll_interval': 0.05},
            name='fault-proxy-%d' % self.port, daemon=True)
        self._serve_thread.start()
        return self

    def stop(self, timeout=5.0):
        """Stop accepting, abort open connections, join all threads."""
        server = self._server
        if server is None:
            return
        self._stopping.set()
        server.shutdown()               # stops serve_forever
        self._serve_thread.join(timeout)
        server.server_close()           # closes the listening socket
        with self._lock:
            conns = list(self._connections)
        for sock in conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            leftover = list(self._threads)
        for sock in conns:
            try:
                sock.close()
            except OSError:
                pass
        self._server = None
        self._serve_thread = None
        if leftover:
            logger.warning('fault proxy: %d handler thread(s) still alive '
                           'after stop()', len(leftover))

    @property
    def running(self):
        return self._server is not None

    @property
    def alive_threads(self):
        """Serving and handler threads still running (for leak checks)."""
        with self._lock:
            threads = [t for t in self._threads if t.is_alive()]
        if self._serve_thread is not None and self._serve_thread.is_alive():
            threads.append(self._serve_thread)
        return threads

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def endpoint_url(self):
        if self.port is None:
            raise RuntimeError('proxy not started')
        scheme = 'http' if self.tls_context is None else 'https'
        return '%s://%s:%d' % (scheme, self.host, self.port)

    # -- rules ----------------------------------------------------------------
    def add_rule(self, rule):
        if not isinstance(rule, Rule):
            raise TypeError('expected a Rule, got %r' % (rule,))
        with self._lock:
            self._rules.append(rule)
        return rule

    def hold_until(self, condition, on_release, timeout=60, **match):
        """A rule (``match``: ``Rule``'s fields) whose requests wait until
        ``condition()`` holds, ``timeout`` seconds at most. The list it
        returns gets ``on_release()`` for each request released in time,
        None for one that was not."""
        released = []

        def hold(record):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if condition():
                    released.append(on_release())
                    return
                time.sleep(0.05)
            released.append(None)

        self.add_rule(Rule(callback=hold, **match))
        return released

    def clear_rules(self):
        with self._lock:
            self._rules.clear()

    @property
    def rules(self):
        with self._lock:
            return list(self._rules)

    # -- request log --------------------------------------------------------
    @property
    def requests(self):
        """Snapshot (a new list) of every :class:`RequestRecord` so far."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self):
        with self._lock:
            self._requests.clear()

    def find_requests(self, method=None, key=None, has_range=None,
                      header=None, query=None):
        """Requests filtered like a Rule's matcher.

        ``key``: substring of the decoded path; ``header``: the name of a
        header that must be present; ``query``: regex searched in the query.
        """
        out = []
        for rec in self.requests:
            if method is not None and rec.method.upper() != method.upper():
                continue
            if key is not None and key not in rec.key_path:
                continue
            if has_range is not None and bool(has_range) != ('Range' in rec.headers):
                continue
            if header is not None and header not in rec.headers:
                continue
            if query is not None and not re.search(query, rec.query):
                continue
            out.append(rec)
        return out

    @property
    def errors(self):
        with self._lock:
            return list(self._errors)

    # -- internals used by the handler ----------------------------------------
    def _log_and_match(self, record):
        with self._lock:
            self._requests.append(record)
            for rule in self._rules:
                if rule._matches(record):
                    rule.fired += 1
                    rule.records.append(record)
                    return rule
        return None

    def _record_error(self, exc):
        with self._lock:
            self._errors.append(exc)

    def _register_connection(self, sock):
        with self._lock:
            self._connections.add(sock)

    def _unregister_connection(self, sock):
        with self._lock:
            self._connections.discard(sock)

    def _register_thread(self, thread):
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)

    def __repr__(self):
        port = self.port if self.port is not None else '-'
        return '<FaultProxy 127.0.0.1:%s -> %s>' % (port, self.upstream_url)
