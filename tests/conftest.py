"""Shared fixtures: a moto S3 server subprocess, clients, buckets, an
isolated ``aws`` environment and the fault-injecting proxy.

``import awscli`` must come before any botocore import so every test module
gets the CLI's vendored botocore (see awscli_ppdl/__init__.py).
"""
import importlib.util
import multiprocessing
import multiprocessing.context
import os
import uuid
from typing import NamedTuple

import awscli  # noqa: F401  (must stay first, see module docstring)
import pytest
from awscli.clidriver import create_clidriver

from tests.faults.proxy import FaultProxy, Rule  # noqa: F401  (re-export)
from tests.helpers import self_signed_certificate
from tests.scripted_server import ScriptedServer
from tests.s3server import (  # noqa: F401  (re-export for tests)
    AwsEnv,
    MotoServer,
    empty_and_delete_bucket,
    make_aws_env,
    make_s3_client,
    run_aws,
)


# A sitecustomize for the Pythons the tests start (see its docstring).
STARTUP_HOOKS_DIR = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), 'startup_hooks')
DEFAULT_START_METHOD_VAR = 'PPDL_TEST_DEFAULT_START_METHOD'


def pytest_addoption(parser):
    parser.addoption(
        '--default-start-method', choices=['fork', 'forkserver', 'spawn'],
        default=os.environ.get(DEFAULT_START_METHOD_VAR) or None,
        help='the multiprocessing start method of code that chooses none, '
             'in the test process and every Python it starts: forkserver is '
             "Python 3.14's on Linux (env: %s)" % DEFAULT_START_METHOD_VAR)


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'slow: takes more than a few seconds')
    config.addinivalue_line(
        'markers', 'faults: uses the fault-injecting proxy in front of moto')
    method = config.getoption('--default-start-method')
    if method:
        _make_default_start_method(method)


def _make_default_start_method(method):
    """Here, and (through ``tests/startup_hooks/sitecustomize.py`` on
    ``PYTHONPATH``) in every Python the tests start."""
    os.environ[DEFAULT_START_METHOD_VAR] = method
    pythonpath = os.environ.get('PYTHONPATH')
    os.environ['PYTHONPATH'] = STARTUP_HOOKS_DIR + (
        os.pathsep + pythonpath if pythonpath else '')
    spec = importlib.util.spec_from_file_location(
        'ppdl_startup_hooks',
        os.path.join(STARTUP_HOOKS_DIR, 'sitecustomize.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.make_default(method)


def pytest_report_header(config):
    # Read without asking for the default context, which would fix it.
    default = multiprocessing.context._default_context._default_context
    return 'multiprocessing default start method: %s (%s)' % (
        default.get_start_method(),
        '--default-start-method'
        if config.getoption('--default-start-method') else "this Python's")


@pytest.fixture(scope='session')
def s3_server():
    """The moto S3 server subprocess (a :class:`tests.s3server.MotoServer`):
    ``.endpoint_url``, ``.pid``, ``.port``, ``.reset()``, ``.read_log()``."""
    server = MotoServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        if not server.is_running():
            server.remove_log()


@pytest.fixture(scope='session')
def s3_client(s3_server):
    """botocore S3 client talking straight to ``s3_server`` (no proxy)."""
    client = make_s3_client(s3_server.endpoint_url)
    yield client
    client.close()


@pytest.fixture
def bucket(s3_client):
    """A fresh, empty bucket ``ppcp-test-<uuid8>``; emptied and deleted after."""
    name = 'ppcp-test-%s' % uuid.uuid4().hex[:8]
    s3_client.create_bucket(Bucket=name)
    yield name
    empty_and_delete_bucket(s3_client, name)


@pytest.fixture
def aws_env(tmp_path):
    """Environment dict (an :class:`tests.s3server.AwsEnv`) for ``run_aws``:
    temp HOME, AWS_CONFIG_FILE with the ppcp plugin enabled, credentials file
    with testing/testing, venv bin first on PATH, repo root on PYTHONPATH.
    ``.config_file`` / ``.append_config(text)`` to add settings."""
    return make_aws_env(tmp_path / 'aws')


@pytest.fixture
def fault_proxy(s3_server):
    """A started :class:`tests.faults.proxy.FaultProxy` in front of
    ``s3_server`` (``.endpoint_url``, ``.add_rule()``, ``.requests``...)."""
    proxy = FaultProxy(s3_server.endpoint_url)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
    leaked = proxy.alive_threads
    assert not leaked, 'fault proxy threads still alive after stop(): %r' % leaked


@pytest.fixture
def scripted_server():
    """``scripted_server(*script)``: a started :class:`ScriptedServer`,
    closed at the end of the test."""
    servers = []

    def start(*script):
        servers.append(ScriptedServer(*script))
        return servers[-1]
    yield start
    for server in servers:
        server.close()


@pytest.fixture
def tls_fault_proxy(s3_server, tmp_path):
    """``(proxy, certificate file)``: a fault proxy that speaks HTTPS, with
    a self-signed certificate for 127.0.0.1, in front of ``s3_server``."""
    cert, key = self_signed_certificate(str(tmp_path))
    proxy = FaultProxy(s3_server.endpoint_url, tls=(cert, key))
    proxy.start()
    try:
        yield proxy, cert
    finally:
        proxy.stop()


class CliResult(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli_env(aws_env, monkeypatch):
    """Point this process's AWS settings at the isolated config of aws_env."""
    for name in list(os.environ):
        # AWS_DATA_PATH is set by `import awscli` itself for its own data.
        if name.startswith('AWS_') and name != 'AWS_DATA_PATH':
            monkeypatch.delenv(name)
    for name, value in aws_env.items():
        if name.startswith('AWS_') or name == 'HOME':
            monkeypatch.setenv(name, value)
    return aws_env


@pytest.fixture
def ppcp(cli_env, s3_server, capsys):
    """Run ``aws s3 ppcp ARGS --endpoint-url <moto>`` with the real driver.

    ``endpoint_url=`` sends the requests elsewhere (e.g. the fault proxy).
    """
    def run(*args, endpoint_url=None):
        driver = create_clidriver()
        capsys.readouterr()
        returncode = driver.main(
            ['s3', 'ppcp', *map(str, args),
             '--endpoint-url', endpoint_url or s3_server.endpoint_url])
        out, err = capsys.readouterr()
        return CliResult(returncode, out, err)
    return run


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """Run from an empty dir, so the CLI prints destinations as ``out/...``
    and nothing but the download lands in it."""
    path = tmp_path / 'work'
    path.mkdir()
    monkeypatch.chdir(path)
    return path


@pytest.fixture
def stream_env(aws_env, tmp_path):
    """5 MiB ranges, and a TMPDIR of our own to see what the stream left."""
    aws_env.set_config('s3', {'multipart_threshold': '5MB',
                              'multipart_chunksize': '5MB'})
    temp = tmp_path / 'tmp'
    temp.mkdir()
    aws_env['TMPDIR'] = str(temp)
    aws_env.temp = temp
    return aws_env
