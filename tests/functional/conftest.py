"""Fixtures to run ``aws s3 ppcp`` through the real CLI driver, in process."""
import os
from typing import NamedTuple

import pytest
from awscli.clidriver import create_clidriver


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
