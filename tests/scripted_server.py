"""An HTTP server on 127.0.0.1 that answers from a script, byte for byte:
for tests of what a client does with exactly these bytes."""
import socket
import threading


def ok(body, *headers):
    head = [b'HTTP/1.1 200 OK', b'Content-Length: %d' % len(body), *headers]
    return b'\r\n'.join(head) + b'\r\n\r\n' + body


class ScriptedServer:
    """Answers the n-th request of the m-th connection with
    ``script[m][n]``: bytes to send, or CLOSE (close without answering).
    The connection is closed after its last answer; one the client closes
    sooner leaves the rest of its answers unsent."""

    CLOSE = None

    def __init__(self, *script):
        self.script = list(script)
        self.requests = []  # (connection number, request head)
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.url = 'http://127.0.0.1:%d' % self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        for number, answers in enumerate(self.script):
            sock, _ = self.listener.accept()
            with sock:
                try:
                    self._answer(number, sock, answers)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client closed it mid-answer: the next

    def _answer(self, number, sock, answers):
        data = b''
        for answer in answers:
            while b'\r\n\r\n' not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    return  # the client closed it: on to the next
                data += chunk
            head, data = data.split(b'\r\n\r\n', 1)
            self.requests.append((number, head.decode()))
            if answer is self.CLOSE:
                return
            sock.sendall(answer)

    def close(self):
        self.listener.close()
        self.thread.join(10)
