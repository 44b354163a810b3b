"""Helpers behind the fixtures in tests/conftest.py.

* :class:`MotoServer` -- moto's S3 server run as a *subprocess* (never
  in-process: once ``awscli`` is imported, ``botocore`` is the CLI's vendored
  copy, and moto must not patch it).
* :func:`make_s3_client` -- a botocore S3 client from the vendored botocore.
* :func:`empty_and_delete_bucket` -- best-effort bucket cleanup.
* :func:`run_aws` / :func:`make_aws_env` -- run the real ``aws`` entry script
  of this venv as a subprocess with an isolated config.

Everything binds/connects to 127.0.0.1 only.
"""
import atexit
import configparser
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import awscli  # noqa: F401  (first: makes `botocore` the CLI's vendored copy)
import botocore.config
import botocore.session

HOST = '127.0.0.1'
TEST_REGION = 'us-east-1'
TEST_ACCESS_KEY = 'testing'
TEST_SECRET_KEY = 'testing'

VENV_BIN = os.path.dirname(sys.executable)
AWS_SCRIPT = os.path.join(VENV_BIN, 'aws')
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# [default] comes last so that AwsEnv.append_config('max_attempts = 1')
# lands in it (botocore rejects a second [default] header).
PLUGIN_CONFIG = (
    '[plugins]\n'
    'ppcp = awscli_ppdl\n'
    '[default]\n'
    'region = us-east-1\n'
)
CREDENTIALS = (
    '[default]\n'
    'aws_access_key_id = testing\n'
    'aws_secret_access_key = testing\n'
)


def free_port(host=HOST):
    """A TCP port that was free a moment ago (the OS picked it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class MotoServer:
    """``python -m moto.server`` on 127.0.0.1 in a child process.

    Attributes: ``endpoint_url`` (``http://127.0.0.1:PORT``), ``host``,
    ``port``, ``pid``, ``process`` (the :class:`subprocess.Popen`),
    ``log_path`` (moto's stdout+stderr).
    """

    def __init__(self, port=None, start_timeout=30.0):
        self.host = HOST
        self.port = port
        self.process = None
        self.log_path = None
        self._log_file = None
        self._start_timeout = start_timeout

    # -- lifecycle ----------------------------------------------------------
    def start(self, attempts=3):
        last_error = None
        for _ in range(attempts):
            port = self.port or free_port()
            try:
                self._start_on(port)
                return self
            except RuntimeError as e:
                last_error = e
                self.stop()
                if self.port:  # an explicit port: don't try others
                    break
        raise last_error

    def _start_on(self, port):
        env = dict(os.environ)
        env.update({
            'AWS_ACCESS_KEY_ID': TEST_ACCESS_KEY,
            'AWS_SECRET_ACCESS_KEY': TEST_SECRET_KEY,
            'AWS_DEFAULT_REGION': TEST_REGION,
            'PYTHONUNBUFFERED': '1',
        })
        fd, self.log_path = tempfile.mkstemp(prefix='moto-server-',
                                             suffix='.log')
        self._log_file = os.fdopen(fd, 'wb')
        self.port = port
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'moto.server', '-H', HOST, '-p', str(port)],
            stdin=subprocess.DEVNULL, stdout=self._log_file,
            stderr=subprocess.STDOUT, env=env, cwd=tempfile.gettempdir())
        atexit.register(_kill_if_running, self.process)
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + self._start_timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    'moto server exited with %s during startup:\n%s'
                    % (self.process.returncode, self.read_log()))
            try:
                status, _, _ = self.request('GET', '/moto-api/data.json',
                                            timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError('moto server did not answer within %.0fs:\n%s'
                                   % (self._start_timeout, self.read_log()))
            time.sleep(0.05)

    def stop(self, timeout=10.0):
        proc = self.process
        if proc is not None and proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def remove_log(self):
        if self.log_path and os.path.exists(self.log_path):
            os.unlink(self.log_path)

    # -- info / helpers -----------------------------------------------------
    @property
    def pid(self):
        return self.process.pid if self.process is not None else None

    @property
    def endpoint_url(self):
        return 'http://%s:%d' % (self.host, self.port)

    def is_running(self):
        return self.process is not None and self.process.poll() is None

    def request(self, method, path, body=None, headers=None, timeout=10):
        """A raw HTTP request to the server: ``(status, headers, body)``."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def reset(self):
        """Wipe all moto state (every bucket and object): POST /moto-api/reset."""
        status, _, body = self.request('POST', '/moto-api/reset')
        if status != 200:
            raise RuntimeError('moto reset failed: %s %r' % (status, body))

    def read_log(self):
        if self._log_file is not None:
            self._log_file.flush()
        if not self.log_path or not os.path.exists(self.log_path):
            return ''
        with open(self.log_path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return '<MotoServer %s pid=%s>' % (self.endpoint_url, self.pid)


def _kill_if_running(proc):
    if proc.poll() is None:
        try:
            proc.kill()
            proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            pass


def make_s3_client(endpoint_url, retries=None, **config_kwargs):
    """A botocore S3 client (the CLI's vendored botocore) for ``endpoint_url``.

    ``retries``: e.g. ``{'max_attempts': 1, 'mode': 'standard'}``.
    """
    config_kwargs.setdefault('s3', {'addressing_style': 'path'})
    if retries is not None:
        config_kwargs['retries'] = retries
    session = botocore.session.get_session()
    return session.create_client(
        's3', region_name=TEST_REGION, endpoint_url=endpoint_url,
        aws_access_key_id=TEST_ACCESS_KEY,
        aws_secret_access_key=TEST_SECRET_KEY,
        config=botocore.config.Config(**config_kwargs))


def empty_and_delete_bucket(client, bucket):
    """Abort uploads, delete every object/version, delete the bucket.

    Best effort: returns False (instead of raising) if anything failed.
    """
    ok = True
    try:
        for page in client.get_paginator('list_multipart_uploads').paginate(
                Bucket=bucket):
            for up in page.get('Uploads', []):
                client.abort_multipart_upload(
                    Bucket=bucket, Key=up['Key'], UploadId=up['UploadId'])
    except Exception:  # noqa: BLE001
        ok = False
    try:
        for page in client.get_paginator('list_object_versions').paginate(
                Bucket=bucket):
            objs = [{'Key': v['Key'], 'VersionId': v['VersionId']}
                    for v in page.get('Versions', []) + page.get('DeleteMarkers', [])]
            for i in range(0, len(objs), 1000):
                client.delete_objects(Bucket=bucket,
                                      Delete={'Objects': objs[i:i + 1000],
                                              'Quiet': True})
    except Exception:  # noqa: BLE001
        ok = False
    try:
        for page in client.get_paginator('list_objects_v2').paginate(
                Bucket=bucket):
            objs = [{'Key': o['Key']} for o in page.get('Contents', [])]
            if objs:
                client.delete_objects(Bucket=bucket,
                                      Delete={'Objects': objs, 'Quiet': True})
    except Exception:  # noqa: BLE001
        ok = False
    try:
        client.delete_bucket(Bucket=bucket)
    except Exception:  # noqa: BLE001
        ok = False
    return ok


class AwsEnv(dict):
    """Environment for running ``aws`` as a subprocess (a plain dict for
    ``subprocess``), plus the paths it points at:

    ``home``, ``config_file`` (== ``self['AWS_CONFIG_FILE']``),
    ``credentials_file`` (== ``self['AWS_SHARED_CREDENTIALS_FILE']``).
    """

    home = None
    config_file = None
    credentials_file = None

    def append_config(self, text):
        """Append raw text to the config file.

        The file ends inside ``[default]``, so plain ``key = value`` lines
        (including nested ``s3 =`` blocks) become default-profile settings;
        text that starts with a new ``[section]`` header adds that section.
        Don't repeat an existing header (``[default]``, ``[plugins]``):
        botocore rejects duplicate sections -- use :meth:`set_config`.
        """
        with open(self.config_file, 'a') as f:
            f.write(text if text.endswith('\n') else text + '\n')

    def set_config(self, key, value, section='default'):
        """Set ``key = value`` in ``section`` (``'default'``, ``'plugins'``,
        ``'profile NAME'``...), creating the section if needed.

        ``value`` may be a dict for a nested setting, e.g.
        ``set_config('s3', {'max_concurrent_requests': '4'})``.
        """
        parser = configparser.RawConfigParser()
        parser.optionxform = str
        parser.read(self.config_file)
        if not parser.has_section(section):
            parser.add_section(section)
        if isinstance(value, dict):
            value = ''.join('\n%s = %s' % kv for kv in value.items())
        parser.set(section, key, str(value))
        with open(self.config_file, 'w') as f:
            parser.write(f)

    def read_config(self):
        with open(self.config_file) as f:
            return f.read()


def make_aws_env(directory, base_env=None):
    """Build an :class:`AwsEnv` whose files live in ``directory``."""
    directory = str(directory)
    home = os.path.join(directory, 'home')
    os.makedirs(home, exist_ok=True)
    config_file = os.path.join(directory, 'aws_config')
    credentials_file = os.path.join(directory, 'aws_credentials')
    with open(config_file, 'w') as f:
        f.write(PLUGIN_CONFIG)
    with open(credentials_file, 'w') as f:
        f.write(CREDENTIALS)

    base = dict(os.environ if base_env is None else base_env)
    # Nothing from the caller's AWS setup may leak in (profiles, keys,
    # endpoints, CA bundles, ...); credentials come from the file.
    env = AwsEnv((k, v) for k, v in base.items() if not k.startswith('AWS_'))
    path = env.get('PATH', '')
    env['PATH'] = VENV_BIN + (os.pathsep + path if path else '')
    pythonpath = env.get('PYTHONPATH', '')
    env['PYTHONPATH'] = REPO_ROOT + (os.pathsep + pythonpath if pythonpath else '')
    env.update({
        'HOME': home,
        'AWS_CONFIG_FILE': config_file,
        'AWS_SHARED_CREDENTIALS_FILE': credentials_file,
        'AWS_EC2_METADATA_DISABLED': 'true',
    })
    env.home = home
    env.config_file = config_file
    env.credentials_file = credentials_file
    return env


def run_aws(args, env, timeout=120, cwd=None, **popen_options):
    """Run this venv's ``aws`` script: ``CompletedProcess`` with text output.

    Never raises on a non-zero exit; check ``.returncode`` yourself.
    """
    return subprocess.run(
        [AWS_SCRIPT, *[str(a) for a in args]], env=env, cwd=cwd,
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=timeout, **popen_options)
