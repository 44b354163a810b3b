"""Timed runs of ``aws`` for the benchmark scripts outside ``run.py``
(``checksum_cost``, ``ab_trees``, ``files_from``): a throwaway home with the
plugin registered, one run's wall time and CPU, and the objects to fetch."""
import concurrent.futures
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import NamedTuple

AWS = os.path.join(os.path.dirname(sys.executable), 'aws')


def cli_env(prefix, s3_settings=(), pythonpath=None):
    """``(home, env)``: a fresh home whose profile registers the plugin,
    with dummy credentials and the profile's ``s3`` lines ``s3_settings``;
    the environment without the caller's ``AWS_`` variables, and with
    ``pythonpath`` first on ``PYTHONPATH`` when given (a source tree to
    run instead of the installed one)."""
    home = tempfile.mkdtemp(prefix=prefix)
    os.makedirs(f'{home}/.aws')
    s3_lines = ''.join(f'    {setting}\n' for setting in s3_settings)
    with open(f'{home}/.aws/config', 'w') as f:
        f.write('[plugins]\nppcp = awscli_ppdl\n[default]\n'
                'region = us-east-1\n'
                + (f's3 =\n{s3_lines}' if s3_lines else ''))
    with open(f'{home}/.aws/credentials', 'w') as f:
        f.write('[default]\naws_access_key_id = any\n'
                'aws_secret_access_key = any\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith('AWS_')}
    env['HOME'] = home
    if pythonpath is not None:
        env['PYTHONPATH'] = pythonpath
    return home, env


class Timed(NamedTuple):
    """A run: its wall seconds, and the CPU seconds of the command and its
    children, in all and as user and system time."""

    wall: float
    cpu: float
    user: float
    system: float


def run(argv, env, cwd=None):
    """The command's ``Timed``; exits with the command's stderr if it
    fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True,
                            text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode:
        sys.exit(f'{argv} exited {result.returncode}: {result.stderr}')
    user = after.ru_utime - before.ru_utime
    system = after.ru_stime - before.ru_stime
    return Timed(wall, user + system, user, system)


def median_timed(runs):
    """The ``Timed`` of each field's median over ``runs``."""
    return Timed(*(statistics.median(values) for values in zip(*runs)))


def put_objects(client, bucket, keys, size):
    """One object of ``size`` random bytes per key, 16 PUTs at a time (the
    same bytes for all: these benchmarks time requests, not the data)."""
    body = os.urandom(size)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(
            lambda key: client.put_object(Bucket=bucket, Key=key, Body=body),
            keys))
