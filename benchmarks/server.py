"""Starts and stops the local S3 server every tool downloads from.

SeaweedFS (``weed mini``) is the default: a real, compiled S3 server whose
own cost per request is small, so the clients are what is measured.  moto is
the fallback: it is pure Python and far slower per request, so figures taken
against it mostly measure moto.

Both bind 127.0.0.1 only, on ports picked free at start.  The server is
stopped by the pid we started, on every exit path (the caller uses it as a
context manager), and its temporary directory is removed.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HOST = '127.0.0.1'


def _free_ports(count):
    """Ports nobody listens on right now.

    All sockets are held open until every port is chosen so that the same
    port is not handed out twice.
    """
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _server_env():
    """The environment for the server process.

    ``weed mini`` turns AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/S3_BUCKET
    into an identity, after which only that key is accepted; the benchmark
    wants the documented "any key works" mode, so those are scrubbed.
    """
    return {k: v for k, v in os.environ.items()
            if not k.startswith('AWS_') and k != 'S3_BUCKET'}


class S3Server:
    """A running S3 server; use as a context manager so it always stops."""

    def __init__(self, name, argv, port, cwd, temp_dir, env, version='',
                 https_port=None):
        self.name = name
        self.https_port = https_port
        self.argv = argv
        self.port = port
        self.cwd = cwd
        self.temp_dir = temp_dir
        self.env = env
        self.version = version
        self.endpoint_url = f'http://{HOST}:{port}'
        self.log_path = Path(temp_dir) / 'server.log'
        self.process = None

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def cpu_s(self):
        """User + system CPU seconds the server has used so far: it shares
        the cores with the tools, so its share tells what limits a row."""
        return process_cpu_s(self.pid)

    def start(self, ready_timeout=90):
        log_file = open(self.log_path, 'wb')
        try:
            # A session of its own: a Ctrl-C in the terminal reaches only the
            # harness, which then stops the server itself (see stop()).
            self.process = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env,
                stdin=subprocess.DEVNULL, stdout=log_file,
                stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log_file.close()
        try:
            self._wait_until_answering(ready_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_answering(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f'{self.name} exited with {self.process.returncode}; '
                    f'log:\n{self.log_tail()}')
            try:
                with urllib.request.urlopen(self.endpoint_url + '/',
                                            timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # Any HTTP answer means the S3 front end is up.
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        raise RuntimeError(f'{self.name} did not answer on '
                           f'{self.endpoint_url} within {timeout}s; '
                           f'log:\n{self.log_tail()}')

    def log_tail(self, lines=30):
        try:
            text = self.log_path.read_text(errors='replace')
        except OSError:
            return '(no log)'
        return '\n'.join(text.splitlines()[-lines:])

    def stop(self, grace=20):
        """Stop it by PID, then remove the temp dir."""
        _stop_by_pid(self.process, grace)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()


def _stop_by_pid(process, grace):
    """SIGTERM by PID, SIGKILL if it lingers past ``grace`` seconds."""
    if process is None or process.poll() is not None:
        return
    try:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def process_cpu_s(pid):
    """User + system CPU seconds of process ``pid`` and of its children it
    has waited for, from ``/proc``."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    ticks = sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf('SC_CLK_TCK')


def self_signed_certificate(directory):
    """A certificate for 127.0.0.1 that every tool is told to trust (one
    file for AWS_CA_BUNDLE, SSL_CERT_FILE and curl's --cacert)."""
    cert, key = Path(directory) / 'cert.pem', Path(directory) / 'key.pem'
    subprocess.run(
        ['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
         '-keyout', str(key), '-out', str(cert), '-days', '2',
         '-subj', f'/CN={HOST}', '-addext', f'subjectAltName=IP:{HOST}'],
        check=True, capture_output=True)
    return cert, key


class WanLink:
    """``wan.py`` in front of a server port: a delay and a rate per
    connection, emulated in a process whose CPU time is read by PID."""

    def __init__(self, upstream_port, delay_ms, rate_mbit, scheme):
        self.upstream_port = upstream_port
        self.delay_ms = delay_ms
        self.rate_mbit = rate_mbit
        self.scheme = scheme
        self.process = None
        self.endpoint_url = None

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def start(self):
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name('wan.py')),
             '--upstream', f'{HOST}:{self.upstream_port}',
             '--delay-ms', str(self.delay_ms),
             '--rate-mbit', str(self.rate_mbit)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            start_new_session=True, text=True)
        line = self.process.stdout.readline().split()
        if line[:1] != ['listening']:
            self.stop()
            raise RuntimeError(f'wan.py did not start: {line}')
        self.endpoint_url = f'{self.scheme}://{HOST}:{line[1]}'
        return self

    def cpu_s(self):
        """User + system CPU seconds the link has used so far."""
        return process_cpu_s(self.pid)

    def stop(self, grace=10):
        _stop_by_pid(self.process, grace)
        if self.process is not None:
            self.process.stdout.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def seaweedfs(weed_binary, version='', tls=None):
    """``weed mini`` with every listener on a free 127.0.0.1 port.

    Besides S3, ``weed mini`` runs a master, a volume server, a filer, an
    admin server (each with a gRPC port at +10000 unless told otherwise),
    WebDAV, an Iceberg and a Lance endpoint.  Each port is set explicitly so
    that two runs (or another SeaweedFS) never collide, the extras are turned
    off, and so is the telemetry that is on by default and would try to
    reach the internet.  Logs and unix sockets (default: /tmp) go to the
    temp dir, which is removed at stop.
    """
    temp_dir = tempfile.mkdtemp(prefix='ppdl-bench-weed-')
    data_dir = Path(temp_dir) / 'data'
    data_dir.mkdir()
    (s3_port, s3_grpc, master, master_grpc, volume, volume_grpc, filer,
     filer_grpc, admin, admin_grpc, https_port) = _free_ports(11)
    argv = [
        str(Path(weed_binary).resolve()), f'-logdir={temp_dir}', 'mini',
        f'-dir={data_dir}', f'-ip={HOST}', f'-ip.bind={HOST}',
        '-master.telemetry=false',
        f'-s3.port={s3_port}', f'-s3.port.grpc={s3_grpc}',
        f'-master.port={master}', f'-master.port.grpc={master_grpc}',
        f'-volume.port={volume}', f'-volume.port.grpc={volume_grpc}',
        f'-filer.port={filer}', f'-filer.port.grpc={filer_grpc}',
        f'-admin.port={admin}', f'-admin.port.grpc={admin_grpc}',
        '-admin.ui=false', '-webdav=false',
        '-s3.port.iceberg=0', '-s3.port.lance=0',
        f'-s3.localSocket={temp_dir}/s3.sock',
        f'-filer.localSocket={temp_dir}/filer.sock',
    ]
    if tls:
        # HTTPS beside plain HTTP: the data is uploaded over plain HTTP, the
        # tools download over HTTPS, with the server's own (Go) TLS.
        cert, key = tls
        argv += [f'-s3.port.https={https_port}', f'-s3.cert.file={cert}',
                 f'-s3.key.file={key}']
    env = _server_env()
    env['TMPDIR'] = temp_dir  # its gRPC unix sockets default to /tmp
    return S3Server('seaweedfs', argv, s3_port, cwd=temp_dir,
                    temp_dir=temp_dir, env=env, version=version,
                    https_port=https_port if tls else None)


def moto(moto_python, version=''):
    """moto's threaded server; stores objects in memory/spooled temp files."""
    temp_dir = tempfile.mkdtemp(prefix='ppdl-bench-moto-')
    (port,) = _free_ports(1)
    env = _server_env()
    env['TMPDIR'] = temp_dir  # moto spools large objects to temp files
    argv = [str(Path(moto_python).absolute()), '-m', 'moto.server', '-H', HOST, '-p',
            str(port)]
    return S3Server('moto', argv, port, cwd=temp_dir, temp_dir=temp_dir,
                    env=env, version=version)
