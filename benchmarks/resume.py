"""What resuming saves ``aws s3 ppcp`` (issue 24, item 1): one object
fetched in parts, interrupted by Ctrl-C once half its parts are recorded,
then run again.

Uploads a ``--size-mib`` object (default 1 GiB) to a fresh ``weed mini`` on
127.0.0.1 and, ``--runs`` times: downloads it uninterrupted; then starts
it, sends SIGINT to its process group once ``<file>.ppcp-resume`` lists
half the parts, and times the same command run again (without resume, or
with ``--no-resume``, that rerun is the uninterrupted download). Prints
the median wall time and CPU of each, and the bytes the rerun had left to
fetch: the parts its record did not list when the first run ended (the
fault tests count at a proxy that the rerun requests no others).

    python -m benchmarks.resume --weed PATH/TO/weed [--size-mib 1024]

(A small object is all received at once with the default requests in
flight: ``--size-mib 64 --requests 2`` is a smoke check.)

Not part of ``benchmarks/run.py``; its figures are written by hand into
``where-the-time-goes.md``, which RESULTS.md includes.
"""
import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

import awscli  # noqa: F401  (before botocore: the CLI's vendored copy)

from benchmarks.checksum_cost import upload
from benchmarks.cli_runs import AWS, cli_env, median_timed, run
from benchmarks.server import seaweedfs
from tests.s3server import make_s3_client

MiB = 1024 * 1024
PART = 8 * MiB   # the CLI's default multipart_chunksize
# This tree's awscli_ppdl, not the installed one.
TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def recorded_parts(record):
    try:
        with open(record) as f:
            return sum(1 for line in f if line.startswith('part '))
    except FileNotFoundError:
        return 0


def interrupt_at_half(argv, env, out, parts):
    """Start the download and Ctrl-C its process group once the record
    lists half the parts; the number of parts it kept."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL,
                               start_new_session=True)
    while recorded_parts(out + '.ppcp-resume') < parts // 2:
        if process.poll() is not None:
            sys.exit(f'the download ended (exit {process.returncode}) before '
                     'half its parts were recorded: try a larger --size-mib')
        time.sleep(0.002)
    os.killpg(process.pid, signal.SIGINT)
    process.wait()
    return recorded_parts(out + '.ppcp-resume')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--weed', required=True)
    parser.add_argument('--size-mib', type=int, default=1024)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--requests', type=int,
                        help='the profile\'s max_concurrent_requests (few '
                        'let a small object be interrupted at half)')
    args = parser.parse_args()
    size = args.size_mib * MiB
    parts = -(-size // PART)
    settings = ([f'max_concurrent_requests = {args.requests}']
                if args.requests else [])
    home, env = cli_env('ppdl-resume-', settings, pythonpath=TREE)
    out = f'{home}/out'
    with seaweedfs(args.weed).start() as server:
        client = make_s3_client(server.endpoint_url)
        client.create_bucket(Bucket='resume')
        upload(client, 'resume', 'big', size, 'CRC32')
        argv = [AWS, 's3', 'ppcp', 's3://resume/big', out, '--endpoint-url',
                server.endpoint_url, '--no-progress']
        times = {'uninterrupted': [], 'resumed after 50 %': []}
        left_to_fetch = []
        for _ in range(args.runs):
            times['uninterrupted'].append(run(argv, env))
            os.remove(out)
            kept = interrupt_at_half(argv, env, out, parts)
            left_to_fetch.append(size - min(kept * PART, size))
            times['resumed after 50 %'].append(run(argv, env))
            os.remove(out)
        print(f'{args.size_mib} MiB in {parts} parts, median of {args.runs}, '
              f'{os.cpu_count()} CPUs')
        for name, samples in times.items():
            median = median_timed(samples)
            print(f'{name:20}: {median.wall:6.2f} s wall, '
                  f'{median.cpu:5.2f} CPU-s')
        print(f'bytes left to fetch by the rerun: median '
              f'{statistics.median(left_to_fetch) / MiB:.0f} MiB of '
              f'{args.size_mib} MiB (runs: '
              + ', '.join(f'{b / MiB:.0f}' for b in left_to_fetch) + ')')
        print('(resumed: the second run alone; without resume it is the '
              'uninterrupted time)')


if __name__ == '__main__':
    main()
