"""HTTP/1.1 GETs on kept-alive sockets, for a worker's direct GetObject.

Why not urllib3 and ``http.client``, which botocore sends with: for a small
object they cost a worker more CPU than the rest of the GET. Measured with
16 threads GETting 2,000 objects of 16 KiB (one process, 2 cores): 1.33 ms
of user CPU and 31 futex calls per GET through ``URLLib3Session``, 0.55 ms
and 8 through a worker's whole sender on this client (template, signing and
botocore's checksum wrapper included). Each GET there parses its headers with the ``email`` package,
checks a pooled connection with ``poll`` and sets its timeout twice, and
releases the GIL several times more, which 16 threads then fight for. Here a
request is one ``sendall`` of bytes, and the head and the first bytes of the
body usually arrive in one ``recv_into``.

What it does is narrow, the part of HTTP a GetObject needs: a GET with no
body to the origin of its URL (http, or https verified as botocore's
``URLLib3Session`` verifies it; no proxy, no client certificate, which stay
with urllib3), and a response framed by its Content-Length, as S3 frames
every GetObject. A response framed otherwise (chunked, or delimited by the
connection's end) raises ``UnframedResponse``, so that botocore sends that
GET itself. Failures to connect or to receive a response are raised as the
botocore exceptions ``URLLib3Session.send`` raises for them, so that
botocore's retries treat them alike; a body cut short raises
``http.client.IncompleteRead``, as ``http.client`` does. A body over plain
HTTP can also be moved into a pipe (``Body.splice_to``), from which the
worker splices it into its file without its bytes passing through Python
(``splicing``).
"""
import dataclasses
import http.client
import logging
import os
import select
import socket
import ssl
import threading
from urllib.parse import urlsplit

from botocore.exceptions import (
    ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError,
    ReadTimeoutError, SSLError)
from botocore.httpsession import (
    DEFAULT_TIMEOUT, create_urllib3_context, get_cert_path)

logger = logging.getLogger(__name__)

# Enough for any response head S3 sends (the head is a few hundred bytes,
# more with user metadata, whose total S3 caps at 2 KiB), and for the start
# of a small body in the same receive.
HEAD_BUFFER_SIZE = 64 * 1024
DEFAULT_PORTS = {'http': 80, 'https': 443}


class UnframedResponse(Exception):
    """A response without a Content-Length: this client cannot tell where
    its body ends, botocore's can."""


@dataclasses.dataclass(frozen=True)
class Origin:
    """Where a URL's requests go, and the ``Host`` header they carry."""

    scheme: str
    host: str
    port: int
    host_header: str


def split_url(url):
    """(``Origin``, request target) of an http or https URL."""
    parts = urlsplit(url)
    default_port = DEFAULT_PORTS[parts.scheme]
    port = parts.port or default_port
    host_header = parts.hostname
    if ':' in host_header:
        host_header = f'[{host_header}]'
    if port != default_port:
        host_header = f'{host_header}:{port}'
    target = parts.path or '/'
    if parts.query:
        target = f'{target}?{parts.query}'
    return Origin(parts.scheme, parts.hostname, port, host_header), target


@dataclasses.dataclass
class Response:
    status: int
    headers: dict  # lower-case names
    body: 'Body'


class ConnectionPool:
    """Kept-alive connections to any number of origins, shared by threads
    (each connection is used by one thread at a time).

    :param verify: as ``URLLib3Session``'s: True, a CA bundle's path, or
        False (no verification).
    :param timeout: seconds, or (connect, read) seconds.
    :param max_idle: connections kept per origin between requests (as
        urllib3's pool ``maxsize``); more are closed when released.
    :param socket_options: ``setsockopt`` arguments for each new socket.
    """

    def __init__(self, verify=True, timeout=None, max_idle=10,
                 socket_options=()):
        if timeout is None:
            timeout = DEFAULT_TIMEOUT
        if isinstance(timeout, (int, float)):
            timeout = (timeout, timeout)
        self._connect_timeout, self._read_timeout = timeout
        self._verify = verify
        self._socket_options = list(socket_options)
        self._max_idle = max_idle
        self._idle = {}
        self._lock = threading.Lock()
        self._ssl_context = None

    def get(self, url, headers):
        """GET ``url`` with ``headers`` (name, value pairs): the response,
        once its head has arrived; its body is read from ``response.body``,
        which gives the connection back when released."""
        origin, target = split_url(url)
        request = _request_bytes(target, origin.host_header, headers)
        connection = self._idle_connection(origin)
        if connection is not None:
            try:
                return self._exchange(connection, request, url, target,
                                      reused=True)
            except _ClosedByServer:
                # A kept-alive connection the server had closed before it
                # read this request (urllib3 checks for that with a poll
                # before each request): send it again, on a new connection.
                pass
        return self._exchange(self._connect(origin, url), request, url,
                              target, reused=False)

    def release(self, connection):
        with self._lock:
            idle = self._idle.setdefault(connection.origin, [])
            if len(idle) < self._max_idle:
                idle.append(connection)
                return
        connection.close()

    def _idle_connection(self, origin):
        with self._lock:
            idle = self._idle.get(origin)
            return idle.pop() if idle else None

    def _connect(self, origin, url):
        logger.debug('Starting new %s connection: %s:%s',
                     origin.scheme.upper(), origin.host, origin.port)
        sock = None
        try:
            sock = socket.create_connection(
                (origin.host, origin.port), timeout=self._connect_timeout)
            for option in self._socket_options:
                sock.setsockopt(*option)
            if origin.scheme == 'https':
                sock = self._tls_context().wrap_socket(
                    sock, server_hostname=origin.host)
            sock.settimeout(self._read_timeout)
        except BaseException as e:
            if sock is not None:
                sock.close()
            _raise_as_botocore(e, url, ConnectTimeoutError,
                               EndpointConnectionError)
            raise
        return _Connection(origin, sock)

    def _tls_context(self):
        """botocore's TLS context, verifying as ``URLLib3Session`` has
        urllib3 verify (``CERT_REQUIRED`` with ``get_cert_path(verify)``,
        and the host name), or not at all."""
        if self._ssl_context is None:
            context = create_urllib3_context()
            if self._verify:
                context.verify_mode = ssl.CERT_REQUIRED
                context.check_hostname = True
                context.load_verify_locations(
                    cafile=get_cert_path(self._verify))
            else:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._ssl_context = context
        return self._ssl_context

    def _exchange(self, connection, request, url, target, reused):
        """Send ``request``, receive the response's head; ``_ClosedByServer``
        if a ``reused`` connection ends before any of the response."""
        try:
            connection.sock.sendall(request)
            status, headers = connection.read_head()
        except BaseException as e:
            connection.close()
            if reused and isinstance(e, (_NoResponse, ConnectionError)):
                raise _ClosedByServer() from e
            _raise_as_botocore(e, url, ReadTimeoutError, ConnectionClosedError,
                               (OSError, _NoResponse, _BadResponse))
            raise
        length = headers.get('content-length')
        # The line urllib3 logs for each request (--debug shows them).
        origin = connection.origin
        logger.debug('%s://%s:%s "GET %s HTTP/1.1" %s %s', origin.scheme,
                     origin.host, origin.port, target, status, length)
        if (length is None or not length.isdigit()
                or 'transfer-encoding' in headers):
            connection.close()
            raise UnframedResponse(status)
        return Response(status, headers, Body(
            self, connection, int(length),
            keep_alive=headers.get('connection', '').lower() != 'close'))


class _NoResponse(Exception):
    """The connection ended before any byte of a response."""


class _BadResponse(Exception):
    """What arrived is not an HTTP/1.x response head."""


class _ClosedByServer(Exception):
    """A kept-alive connection that the server had closed."""


class _Connection:
    def __init__(self, origin, sock):
        self.origin = origin
        self.sock = sock
        self._buffer = bytearray(HEAD_BUFFER_SIZE)
        self._view = memoryview(self._buffer)
        # Bytes received beyond the head: the body's first, not yet read.
        self.pending = 0
        self.pending_start = 0

    def read_head(self):
        """(status, headers) of the next response; what arrived of its body
        with the head stays in the buffer (``pending``)."""
        received = 0
        while True:
            count = self.sock.recv_into(self._view[received:])
            if not count:
                if received:
                    raise _BadResponse('the connection ended in a head')
                raise _NoResponse('the connection ended before a response')
            end = self._buffer.find(b'\r\n\r\n', max(0, received - 3),
                                    received + count)
            received += count
            if end >= 0:
                break
            if received == len(self._buffer):
                raise _BadResponse(f'a head longer than {received} bytes')
        lines = self._buffer[:end].decode('latin-1').split('\r\n')
        self.pending_start = end + 4
        self.pending = received - self.pending_start
        version, _, rest = lines[0].partition(' ')
        status = rest[:3]
        if not version.startswith('HTTP/1.') or not status.isdigit():
            raise _BadResponse(f'not a status line: {lines[0]!r}')
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(':')
            name = name.strip().lower()
            value = value.strip()
            headers[name] = (f'{headers[name]}, {value}' if name in headers
                             else value)
        return int(status), headers

    def readinto(self, view, most):
        """At most ``most`` body bytes into ``view``: buffered ones first."""
        if self.pending:
            count = min(most, self.pending, len(view))
            start = self.pending_start
            view[:count] = self._view[start:start + count]
            self.pending -= count
            self.pending_start += count
            return count
        if len(view) > most:
            view = view[:most]
        return self.sock.recv_into(view)

    def splice_to(self, pipe, most):
        """At most ``most`` body bytes into the pipe ``pipe`` (a
        descriptor with room for them): buffered ones first, written; then
        moved from the socket by ``os.splice``, which waits for them as
        ``recv_into`` would (the socket's timeout, ``socket.timeout``)."""
        if self.pending:
            start = self.pending_start
            count = os.write(pipe, self._view[start:start + min(
                most, self.pending)])
            self.pending -= count
            self.pending_start += count
            return count
        while True:
            try:
                return os.splice(self.sock.fileno(), pipe, most)
            except BlockingIOError:
                # A socket with a timeout is non-blocking underneath.
                self._wait_readable()

    def _wait_readable(self):
        timeout = self.sock.gettimeout()
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN)
        if not poller.poll(None if timeout is None else timeout * 1000):
            raise socket.timeout('timed out')

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Body:
    """A response's body, ``Content-Length`` bytes long: botocore's
    ``StreamingBody`` reads it as it reads urllib3's response."""

    def __init__(self, pool, connection, length, keep_alive):
        self._pool = pool
        self._connection = connection
        self._left = length
        self._keep_alive = keep_alive

    def readinto(self, view):
        return self._receive(_Connection.readinto, view, len(view))

    @property
    def spliceable(self):
        """Whether ``splice_to`` can move this body: it arrives over plain
        HTTP (a TLS body is decrypted in the process)."""
        connection = self._connection
        return (connection is not None
                and not isinstance(connection.sock, ssl.SSLSocket))

    def splice_to(self, pipe, most):
        """As ``readinto``, into a pipe (``_Connection.splice_to``): the
        bytes go from the socket into the pipe without passing through
        Python."""
        return self._receive(_Connection.splice_to, pipe, most)

    def _receive(self, receive, into, most):
        """At most ``most`` of the body's next bytes, by ``receive``; a
        connection that ends first is an ``IncompleteRead``."""
        if not self._left or not most:
            return 0
        if self._connection is None:
            raise ValueError('read of a closed body')
        count = receive(self._connection, into, min(most, self._left))
        if not count:
            self.close()
            raise http.client.IncompleteRead(b'', self._left)
        self._left -= count
        return count

    def read(self, amt=None):
        if amt is None or amt > self._left:
            amt = self._left
        buffer = bytearray(amt)
        view = memoryview(buffer)
        filled = 0
        while filled < amt:
            filled += self.readinto(view[filled:])
        return bytes(buffer)

    def stream(self, chunk_size=HEAD_BUFFER_SIZE):
        """The rest of the body, as urllib3's ``HTTPResponse.stream``
        (botocore reads an error response's body with it)."""
        while self._left:
            yield self.read(min(chunk_size, self._left))
        self.release()

    def release(self):
        """Give the connection back if the whole body was read and nothing
        came after it (else close it: what is left would be read as the
        next response)."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._left or connection.pending or not self._keep_alive:
            connection.close()
        else:
            self._pool.release(connection)

    def close(self):
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def _raise_as_botocore(error, url, timeout_error, other_error,
                       others=(OSError,)):
    """Raise what ``URLLib3Session.send`` raises for ``error`` (a TLS
    failure, a timeout, any of ``others``) if it is one of those."""
    for kinds, botocore_error in ((ssl.SSLError, SSLError),
                                  (socket.timeout, timeout_error),
                                  (others, other_error)):
        if isinstance(error, kinds):
            raise botocore_error(endpoint_url=url, error=error) from error


def _request_bytes(target, host_header, headers):
    lines = [f'GET {target} HTTP/1.1']
    names = set()
    for name, value in headers:
        lines.append(f'{name}: {value}')
        names.add(name.lower())
    if 'host' not in names:
        lines.append(f'Host: {host_header}')
    if 'accept-encoding' not in names:
        # What http.client sends: S3 never compresses a body it was not
        # asked to, and a body must arrive as stored.
        lines.append('Accept-Encoding: identity')
    lines.append('\r\n')
    return '\r\n'.join(lines).encode('latin-1')
