"""Fixtures of the signal tests: a throttled 3-part object, the CLI's
TMPDIR, an output dir, and ``start_ppcp`` (a :class:`Ppcp` that is stopped,
with every descendant, at the end of the test)."""
import os

import pytest

from tests.faults.cli_process import SIZE, THROTTLE, Ppcp
from tests.faults.proxy import Rule


@pytest.fixture
def start_ppcp(aws_env, fault_proxy):
    """``start_ppcp(args, cwd, **popen_options)``: a running :class:`Ppcp`
    through the proxy; killed (with every descendant seen) at the end of the
    test. Three worker processes (``processes``; None: the default, one
    per CPU), whatever the machine's CPUs: the tests find them by name
    (``ONE_FILE_CHILDREN``: one per ranged GET of ``big.bin``)."""
    aws_env.set_config('s3', {'multipart_threshold': '5MB',
                              'multipart_chunksize': '5MB'})
    started = []

    def start(args, cwd, processes=3, **options):
        if processes is not None:
            args = [*args, '--processes', str(processes)]
        ppcp = Ppcp(args, cwd, aws_env, fault_proxy.endpoint_url, **options)
        started.append(ppcp)
        return ppcp
    try:
        yield start
    finally:
        for ppcp in started:
            ppcp.stop()


@pytest.fixture
def big_object(s3_client, bucket, fault_proxy):
    """``big.bin``: 12 MiB, each of its three ranged GETs throttled."""
    body = os.urandom(SIZE)
    s3_client.put_object(Bucket=bucket, Key='big.bin', Body=body)
    fault_proxy.add_rule(Rule(method='GET', key='big.bin', has_range=True,
                              throttle_bytes_per_second=THROTTLE))
    return body


@pytest.fixture
def cli_tmpdir(aws_env, tmp_path):
    """The CLI's TMPDIR, to see what it leaves there (the monitor's socket
    directory, a stream's ranges)."""
    temp = tmp_path / 'tmp'
    temp.mkdir()
    aws_env['TMPDIR'] = str(temp)
    return temp


@pytest.fixture
def out(tmp_path):
    path = tmp_path / 'out'
    path.mkdir()
    return path
