"""Which children ``aws s3 ppcp`` forks while it runs other threads.

Python 3.12+ warns (``DeprecationWarning: This process ... is
multi-threaded, use of fork() may lead to deadlocks in the child``) at every
fork of a process with more than one thread: a lock that another thread held
at that moment stays held in the child for good. A start-up hook
(``tests/startup_hooks``, ``PPDL_TEST_FORK_LOG``) records, at every fork of
every process of one download, the process being started and the threads
alive. This test works on every Python, warning or not.

Issue 28: every child the ``aws`` process forks (the monitor, the
submitter, the workers it needs) is forked before the pool's threads and
the CLI's result thread start; later workers come from the lean fork server,
whose forks are its own (a process with one thread).
"""
import json
import os

import pytest

from tests.conftest import STARTUP_HOOKS_DIR
from tests.s3server import run_aws

MiB = 1024 * 1024


# (source below the bucket, destination below tmp_path, ppcp's options)
SHAPES = {
    # Four parts, two workers: fewer than the lean fork server pays for,
    # so both are forked.
    'one-large-object': ('big', 'big', ['--processes', '2']),
    # Four parts, four workers: the first forked, the others from the
    # lean fork server.
    'one-large-object-lean': ('big', 'big', ['--processes', '4']),
    'one-small-object': ('small/a', 'a', []),
    'many-objects': ('small/', 'small', ['--recursive', '--processes', '2']),
    'a-stream': ('small/a', '-', ['--processes', '2']),
}


@pytest.mark.parametrize('shape', SHAPES)
def test_no_child_is_forked_while_another_thread_runs(
        shape, s3_client, bucket, aws_env, s3_server, tmp_path):
    bodies = {'big': os.urandom(4 * 5 * MiB),
              **{f'small/{name}': name.encode() for name in 'abc'}}
    for key, body in bodies.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    aws_env.set_config('s3', {'multipart_threshold': '5MB',
                              'multipart_chunksize': '5MB'})
    log = tmp_path / 'forks.jsonl'
    aws_env['PYTHONPATH'] = STARTUP_HOOKS_DIR + os.pathsep + aws_env[
        'PYTHONPATH']
    aws_env['PPDL_TEST_FORK_LOG'] = str(log)
    source, destination, options = SHAPES[shape]
    target = (destination if destination == '-'
              else str(tmp_path / 'out' / destination))

    result = run_aws(['s3', 'ppcp', f's3://{bucket}/{source}', target,
                      *options, '--endpoint-url', s3_server.endpoint_url],
                     aws_env)

    assert result.returncode == 0, result.stderr
    if destination == '-':
        assert result.stdout == 'a'
    elif source.endswith('/'):
        assert {path.name: path.read_bytes()
                for path in (tmp_path / 'out' / 'small').iterdir()} == {
            name: name.encode() for name in 'abc'}
    else:
        assert (tmp_path / 'out' / destination).read_bytes() == bodies[source]
    forks = [json.loads(line) for line in log.read_text().splitlines()]
    assert 'ppcp-worker-0' in {fork['started'] for fork in forks}, forks
    with_threads = ['%s forked from %s while %s ran' % (
        fork['started'] or 'a child of pid %d' % fork['pid'],
        fork['forking_thread'],
        ', '.join(t for t in fork['threads'] if t != fork['forking_thread']))
        for fork in forks if len(fork['threads']) > 1]
    assert not with_threads, '\n'.join(with_threads)
