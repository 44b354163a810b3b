"""Peak memory of ``aws s3 ppcp --files-from`` in the length of the list
(issue 25): the list is read a line at a time, so a list ten times longer
must not take ten times the memory.

For each ``--lines`` count, writes a key list of that many lines and runs
``aws s3 ppcp s3://BUCKET/p/ out --files-from LIST --dryrun`` against a
fresh ``weed mini`` on 127.0.0.1 (``--dryrun`` prints every line it would
download and sends no request for the keys), sampling the peak summed
resident set of the ``aws`` process tree (``measure.run_measured``).

    python -m benchmarks.list_memory --weed PATH/TO/weed \\
        [--lines 100000 1000000]

Not part of ``benchmarks/run.py``; its figures are written by hand into
``where-the-time-goes.md``, which RESULTS.md includes.
"""
import argparse
import os
import shutil

import awscli  # noqa: F401  (before botocore: the CLI's vendored copy)

from benchmarks.cli_runs import AWS, cli_env
from benchmarks.measure import become_subreaper, run_measured
from benchmarks.server import seaweedfs
from tests.s3server import make_s3_client

BUCKET = 'list-memory'
MiB = 1024 * 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--weed', required=True)
    parser.add_argument('--lines', type=int, nargs='+',
                        default=[100_000, 1_000_000])
    args = parser.parse_args()
    become_subreaper()
    # This checkout's plugin, whichever the venv has installed.
    home, env = cli_env('ppdl-list-memory-', pythonpath=os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))
    with seaweedfs(args.weed).start() as server:
        make_s3_client(server.endpoint_url).create_bucket(Bucket=BUCKET)
        for lines in args.lines:
            keys = f'{home}/keys-{lines}.txt'
            with open(keys, 'w') as f:
                f.writelines(f'dir{number % 100}/{number:08}.bin\n'
                             for number in range(lines))
            result = run_measured(
                [AWS, 's3', 'ppcp', f's3://{BUCKET}/p/', 'out',
                 '--files-from', keys, '--dryrun',
                 '--endpoint-url', server.endpoint_url],
                env, f'{home}/log-{lines}.txt', exclude_pids={server.pid},
                cwd=home)
            with open(f'{home}/log-{lines}.txt', 'rb') as log:
                printed = sum(1 for line in log
                              if line.startswith(b'(dryrun) download: '))
            if result.returncode != 0 or printed != lines:
                raise SystemExit(f'{lines} lines: exit {result.returncode}, '
                                 f'{printed} lines printed')
            print(f'{lines:>9,} lines: peak tree RSS '
                  f'{result.peak_rss_bytes / MiB:6.1f} MiB, '
                  f'{result.peak_processes} processes, '
                  f'{result.wall_s:6.1f} s wall, {result.cpu_s:6.1f} CPU-s')
    shutil.rmtree(home)


if __name__ == '__main__':
    main()
