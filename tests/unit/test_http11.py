"""awscli_ppdl.http11 on real sockets: a scripted HTTP server on 127.0.0.1
(what each connection answers, byte for byte), and the fault proxy with TLS
in front of moto (``tls_fault_proxy``) for the verification botocore would
do."""
import http.client
import os
import socket
import threading

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import (
    ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError,
    ReadTimeoutError, SSLError)

from awscli_ppdl.http11 import ConnectionPool, UnframedResponse
from tests.scripted_server import ScriptedServer, ok
from tests.s3server import (
    TEST_ACCESS_KEY, TEST_REGION, TEST_SECRET_KEY, free_port)


def read_all(body):
    data = b''
    while True:
        chunk = body.read(7)
        if not chunk:
            return data
        data += chunk


def test_a_connection_is_kept_alive_and_its_requests_are_as_sent(
        scripted_server):
    server = scripted_server([ok(b'first'), ok(b'second body')])
    pool = ConnectionPool()
    for path, expected in (('/b/k?x=1', b'first'), ('/b/k2', b'second body')):
        response = pool.get(server.url + path, [('X-Amz-Date', 'today')])
        assert response.status == 200
        assert response.headers['content-length'] == str(len(expected))
        assert read_all(response.body) == expected
        response.body.release()
    host = server.url[len('http://'):]
    assert server.requests == [
        (0, f'GET /b/k?x=1 HTTP/1.1\r\nX-Amz-Date: today\r\nHost: {host}\r\n'
            'Accept-Encoding: identity'),
        (0, f'GET /b/k2 HTTP/1.1\r\nX-Amz-Date: today\r\nHost: {host}\r\n'
            'Accept-Encoding: identity')]


def test_a_connection_the_server_closed_is_replaced_once(scripted_server):
    """The server closed the kept-alive connection (no Connection: close
    said so): the request goes again, on a new connection."""
    server = scripted_server([ok(b'one'), ScriptedServer.CLOSE], [ok(b'two')])
    pool = ConnectionPool()
    first = pool.get(server.url + '/k', [])
    assert read_all(first.body) == b'one'
    first.body.release()
    second = pool.get(server.url + '/k', [])
    assert read_all(second.body) == b'two'
    assert [number for number, _ in server.requests] == [0, 0, 1]


def test_a_new_connection_closed_before_a_response_is_botocores_error(
        scripted_server):
    server = scripted_server([ScriptedServer.CLOSE])
    with pytest.raises(ConnectionClosedError) as raised:
        ConnectionPool().get(server.url + '/k', [])
    assert server.url in str(raised.value)


@pytest.mark.parametrize('answer', [
    b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n',
    b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end',
], ids=['chunked', 'until-closed'])
def test_a_body_not_framed_by_its_length_is_left_to_botocore(
        scripted_server, answer):
    server = scripted_server([answer])
    with pytest.raises(UnframedResponse):
        ConnectionPool().get(server.url + '/k', [])


def test_a_body_cut_short_is_an_incomplete_read_and_the_connection_is_dropped(
        scripted_server):
    server = scripted_server([ok(b'0123456789')[:-4]], [ok(b'next')])
    pool = ConnectionPool()
    response = pool.get(server.url + '/k', [])
    view = memoryview(bytearray(100))
    assert response.body.readinto(view) == 6
    with pytest.raises(http.client.IncompleteRead):
        response.body.readinto(view)
    response.body.release()
    assert read_all(pool.get(server.url + '/k', []).body) == b'next'
    assert [number for number, _ in server.requests] == [0, 1]


def test_a_head_and_body_split_anywhere_arrive_whole():
    """The head in pieces, and a body longer than what came with it."""
    body = bytes(range(256)) * 1000
    answer = ok(body, b'Content-Range: bytes 0-255999/256000')

    class Trickling(ScriptedServer):
        def _serve(self):
            sock, _ = self.listener.accept()
            with sock:
                sock.recv(65536)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for start in range(0, 60, 3):
                    sock.sendall(answer[start:start + 3])
                sock.sendall(answer[60:])

    server = Trickling([answer])
    try:
        response = ConnectionPool().get(server.url + '/k', [])
        assert response.headers['content-range'] == 'bytes 0-255999/256000'
        assert read_all(response.body) == body
    finally:
        server.close()


def test_an_error_response_is_read_as_botocore_reads_one(scripted_server):
    error = b'<Error><Code>NoSuchKey</Code></Error>'
    server = scripted_server([
        b'HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n'
        b'X-Amz-Request-Id: r1\r\n\r\n%s' % (len(error), error)])
    response = ConnectionPool().get(server.url + '/k', [])
    assert response.status == 404
    assert response.headers['x-amz-request-id'] == 'r1'
    assert b''.join(response.body.stream()) == error


def test_nothing_listening_is_an_endpoint_connection_error():
    url = 'http://127.0.0.1:%d/b/k' % free_port()
    with pytest.raises(EndpointConnectionError) as raised:
        ConnectionPool().get(url, [])
    assert str(raised.value) == (
        f'Could not connect to the endpoint URL: "{url}"')


def test_a_silent_server_is_a_read_timeout():
    listener = socket.create_server(('127.0.0.1', 0))
    try:
        url = 'http://127.0.0.1:%d/k' % listener.getsockname()[1]
        with pytest.raises(ReadTimeoutError):
            ConnectionPool(timeout=(5, 0.2)).get(url, [])
    finally:
        listener.close()


def test_a_server_that_takes_no_connection_is_a_connect_timeout():
    """A listener whose accept queue is full drops further SYNs, as a
    firewall or a flooded endpoint would: botocore's ConnectTimeoutError,
    after the connect timeout, not the read timeout."""
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(0)
    address = listener.getsockname()
    queued = []
    try:
        # Linux queues backlog + 1 connections; then the SYNs go unanswered.
        for _ in range(8):
            sock = socket.socket()
            sock.settimeout(0.2)
            try:
                sock.connect(address)
            except socket.timeout:
                sock.close()
                break
            queued.append(sock)
        else:
            pytest.fail('the listener never stopped taking connections')
        url = 'http://127.0.0.1:%d/k' % address[1]
        with pytest.raises(ConnectTimeoutError) as raised:
            ConnectionPool(timeout=(0.2, 60)).get(url, [])
        assert str(raised.value) == (
            f'Connect timeout on endpoint URL: "{url}"')
    finally:
        for sock in queued:
            sock.close()
        listener.close()


def test_https_is_verified_as_botocore_verifies(tls_fault_proxy,
                                                 s3_client, bucket):
    """Against the CA bundle it is given; by default against botocore's
    (which does not hold a self-signed certificate); or not at all."""
    proxy, cert = tls_fault_proxy
    s3_client.put_object(Bucket=bucket, Key='k', Body=b'over tls')
    url = f'{proxy.endpoint_url}/{bucket}/k'
    request = AWSRequest(method='GET', url=url)
    S3SigV4Auth(Credentials(TEST_ACCESS_KEY, TEST_SECRET_KEY), 's3',
                TEST_REGION).add_auth(request)
    signed = list(request.headers.items())
    for verify in (cert, False):
        response = ConnectionPool(verify=verify).get(url, signed)
        assert (response.status, read_all(response.body)) == (200,
                                                              b'over tls')
    with pytest.raises(SSLError) as raised:
        ConnectionPool(verify=True).get(url, signed)
    assert 'CERTIFICATE_VERIFY_FAILED' in str(raised.value)
    assert str(raised.value).startswith(f'SSL validation failed for {url} ')


def test_a_connection_with_bytes_after_the_body_is_not_kept(
        scripted_server):
    """Whatever follows a body is no response to the next request."""
    server = scripted_server(
        [ok(b'abc') + b'HTTP/1.1 200 OK\r\n', ok(b'on the same connection')],
        [ok(b'next')])
    pool = ConnectionPool()
    first = pool.get(server.url + '/k', [])
    assert read_all(first.body) == b'abc'
    first.body.release()
    assert read_all(pool.get(server.url + '/k', []).body) == b'next'
    assert [number for number, _ in server.requests] == [0, 1]


def splice_all(body, most=65536):
    """A body's bytes as ``splice_to`` moves them, through a pipe."""
    read_end, write_end = os.pipe()
    data = b''
    try:
        while True:
            count = body.splice_to(write_end, most)
            if not count:
                return data
            while count:
                chunk = os.read(read_end, count)
                data += chunk
                count -= len(chunk)
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_spliced_body_arriving_in_pieces_is_whole_and_kept_alive():
    """Its first bytes come with the head (written into the pipe), the rest
    in pieces the socket has to wait for; then the next request goes on
    the same connection."""
    body = bytes(range(256)) * 1000
    answer = ok(body)

    class Trickling(ScriptedServer):
        def _serve(self):
            sock, _ = self.listener.accept()
            with sock:
                sock.recv(65536)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for start in range(0, len(answer), 4000):
                    sock.sendall(answer[start:start + 4000])
                sock.recv(65536)
                sock.sendall(ok(b'next'))

    server = Trickling([answer])
    try:
        pool = ConnectionPool()
        response = pool.get(server.url + '/k', [])
        assert response.body.spliceable
        assert splice_all(response.body) == body
        response.body.release()
        assert read_all(pool.get(server.url + '/k', []).body) == b'next'
    finally:
        server.close()


def test_a_stalled_body_is_a_timeout_when_spliced_as_when_read():
    answer = ok(b'x' * 1000)[:-10]
    done = threading.Event()

    class Stalling(ScriptedServer):
        def _serve(self):
            sock, _ = self.listener.accept()
            with sock:
                sock.recv(65536)
                sock.sendall(answer)
                done.wait(30)

    server = Stalling([answer])
    try:
        response = ConnectionPool(timeout=(5, 0.2)).get(server.url + '/k', [])
        with pytest.raises(socket.timeout):
            splice_all(response.body)
    finally:
        done.set()
        server.close()


def test_a_tls_body_is_not_spliceable(tls_fault_proxy, s3_client, bucket):
    proxy, cert = tls_fault_proxy
    s3_client.put_object(Bucket=bucket, Key='k', Body=b'over tls')
    request = AWSRequest(method='GET', url=f'{proxy.endpoint_url}/{bucket}/k')
    S3SigV4Auth(Credentials(TEST_ACCESS_KEY, TEST_SECRET_KEY), 's3',
                TEST_REGION).add_auth(request)
    response = ConnectionPool(verify=cert).get(
        request.url, list(request.headers.items()))
    assert not response.body.spliceable
    assert read_all(response.body) == b'over tls'
