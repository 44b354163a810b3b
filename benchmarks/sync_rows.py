"""``aws s3 ppsync`` against ``aws s3 sync``, ``s5cmd sync`` and ``rclone
sync`` (issue 24): a first sync of many small objects, and a re-sync where
a few of them changed; and ppsync's peak memory in the number of objects.

Rows (``--rows``): uploads ``--count`` objects of ``--size`` bytes (default
5,000 x 16 KiB) to a fresh ``weed mini`` on 127.0.0.1; then ``--runs``
times, tools in alternating order: each tool syncs the prefix into a fresh
directory (the first sync, timed), ``--changed`` objects (default 50) are
uploaded again with other bytes, and each tool syncs its directory again
(the re-sync, timed; it must fetch exactly the changed objects), then
syncs it once more with nothing changed (listing and comparing only), and
``aws s3 ls --recursive`` lists the prefix (the CLI's start-up and the
listing alone). Prints the median wall time and the CPU of the command and
its children.

Memory (``--memory COUNT ...``): for each count, that many 1 KiB objects
under a prefix of their own, synced by ``ppsync`` into a fresh directory,
with the peak summed resident set of its process tree
(``measure.run_measured``).

    python -m benchmarks.sync_rows --weed PATH/TO/weed [--s5cmd PATH] \\
        [--rclone PATH] [--rows] [--memory 10000 100000]

Tools on their defaults; rclone with ``--s3-provider Other`` and a
connection string (no config file). Not part of ``benchmarks/run.py``; its
figures are written by hand into ``where-the-time-goes.md``, which
RESULTS.md includes.
"""
import argparse
import os
import shutil
import sys

import awscli  # noqa: F401  (before botocore: the CLI's vendored copy)

from benchmarks.cli_runs import AWS, cli_env, median_timed, put_objects, run
from benchmarks.measure import become_subreaper, run_measured
from benchmarks.server import seaweedfs
from tests.s3server import make_s3_client

BUCKET = 'sync-rows'
MiB = 1024 * 1024


def sync_commands(args, endpoint, source, dest):
    """``{tool: argv}`` syncing ``source`` (``s3://...``) into ``dest``."""
    commands = {
        'ppsync': [AWS, 's3', 'ppsync', source, dest, '--endpoint-url',
                   endpoint, '--no-progress', '--only-show-errors'],
        'aws s3 sync': [AWS, 's3', 'sync', source, dest, '--endpoint-url',
                        endpoint, '--no-progress', '--only-show-errors'],
    }
    if args.s5cmd:
        commands['s5cmd sync'] = [args.s5cmd, '--endpoint-url', endpoint,
                                  'sync', f'{source}*', f'{dest}/']
    if args.rclone:
        bucket_path = source[len('s3://'):]
        commands['rclone sync'] = [
            args.rclone, 'sync', '--s3-provider', 'Other', '--s3-endpoint',
            endpoint, '--s3-access-key-id', 'any', '--s3-secret-access-key',
            'any', '--s3-region', 'us-east-1', f':s3:{bucket_path}', dest]
    return commands


def files_in(directory):
    return sum(len(files) for _, _, files in os.walk(directory))


def rows(args, client, endpoint, home, env):
    keys = [f'rows/{number:06}' for number in range(args.count)]
    put_objects(client, BUCKET, keys, args.size)
    source = f's3://{BUCKET}/rows/'
    tools = list(sync_commands(args, endpoint, source, 'x'))
    first = {tool: [] for tool in tools}
    again = {tool: [] for tool in tools}
    unchanged = {tool: [] for tool in tools}
    listing = {'aws s3 ls': []}
    list_argv = [AWS, 's3', 'ls', '--recursive', source, '--endpoint-url',
                 endpoint]
    for run_index in range(args.runs):
        order = tools if run_index % 2 == 0 else tools[::-1]
        dests = {tool: f'{home}/{order.index(tool)}' for tool in tools}
        for tool in order:
            argv = sync_commands(args, endpoint, source, dests[tool])[tool]
            first[tool].append(run(argv, env, home))
            if files_in(dests[tool]) != args.count:
                sys.exit(f'{tool}: the first sync left '
                         f'{files_in(dests[tool])} files')
        changed = keys[run_index::max(1, args.count // args.changed)]
        changed = changed[:args.changed]
        put_objects(client, BUCKET, changed, args.size + 1)
        for tool in order:
            argv = sync_commands(args, endpoint, source, dests[tool])[tool]
            again[tool].append(run(argv, env, home))
            sizes = {os.path.getsize(f'{dests[tool]}/{key[len("rows/"):]}')
                     for key in changed}
            if sizes != {args.size + 1}:
                sys.exit(f'{tool}: the re-sync did not fetch the changes')
        for tool in order:
            argv = sync_commands(args, endpoint, source, dests[tool])[tool]
            unchanged[tool].append(run(argv, env, home))
        listing['aws s3 ls'].append(run(list_argv, env, home))
        for tool in order:
            shutil.rmtree(dests[tool])
        # Back to the first sync's bytes for the next run's changes.
        put_objects(client, BUCKET, changed, args.size)
    print(f'{args.count} x {args.size} B, {args.changed} changed, median of '
          f'{args.runs}, {os.cpu_count()} CPUs')
    for name, samples in (('first sync', first), ('re-sync', again),
                          ('unchanged', unchanged), ('listing', listing)):
        for tool, runs in samples.items():
            median = median_timed(runs)
            print(f'{name:10} {tool:12}: {median.wall:6.2f} s wall, '
                  f'{median.cpu:6.2f} s CPU (command + children)')


def memory(args, client, endpoint, home, env, server_pid):
    become_subreaper()
    for count in args.memory:
        prefix = f'memory-{count}/'
        put_objects(client, BUCKET, (f'{prefix}{number:07}'
                                     for number in range(count)), 1024)
        dest = f'{home}/memory-{count}'
        result = run_measured(
            sync_commands(args, endpoint, f's3://{BUCKET}/{prefix}',
                          dest)['ppsync'],
            env, f'{home}/memory-{count}.log', exclude_pids={server_pid},
            cwd=home)
        if result.returncode != 0 or files_in(dest) != count:
            sys.exit(f'ppsync of {count}: exit {result.returncode}, '
                     f'{files_in(dest)} files')
        print(f'ppsync of {count:>7,} x 1 KiB: peak tree RSS '
              f'{result.peak_rss_bytes / MiB:6.1f} MiB, peak PSS '
              f'{result.peak_pss_bytes / MiB:6.1f} MiB, '
              f'{result.peak_processes} processes, {result.wall_s:6.1f} s')
        shutil.rmtree(dest)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--weed', required=True)
    parser.add_argument('--s5cmd', help='the s5cmd binary (optional)')
    parser.add_argument('--rclone', help='the rclone binary (optional)')
    parser.add_argument('--rows', action='store_true')
    parser.add_argument('--count', type=int, default=5000)
    parser.add_argument('--size', type=int, default=16384)
    parser.add_argument('--changed', type=int, default=50)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--memory', type=int, nargs='*', default=[])
    args = parser.parse_args()
    # This checkout's plugin, whichever the venv has installed.
    home, env = cli_env('ppdl-sync-rows-', pythonpath=os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))
    with seaweedfs(args.weed).start() as server:
        client = make_s3_client(server.endpoint_url)
        client.create_bucket(Bucket=BUCKET)
        if args.rows:
            rows(args, client, server.endpoint_url, home, env)
        if args.memory:
            memory(args, client, server.endpoint_url, home, env, server.pid)
    shutil.rmtree(home)


if __name__ == '__main__':
    main()
