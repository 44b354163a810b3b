"""What ``--files-from`` saves ``aws s3 ppcp`` when a few named objects are
wanted out of a large prefix (issue 25).

Uploads ``--objects`` small objects (default 20,000 of 4 KiB) under one
prefix of a fresh ``weed mini`` on 127.0.0.1, names every ``--every``-th of
them (default 10: 2,000) in a key list, then downloads those, alternating,
``--runs`` times:

* ``ppcp --files-from keys.txt``: one GET per object, no listing;
* ``ppcp --recursive --exclude '*' --include '*0'``: the same objects
  picked by filters from a listing of the whole prefix;
* ``s5cmd run`` of one ``cp`` line per object, if ``--s5cmd`` names the
  binary (``benchmarks/toolchain.py`` installs one);
* ``rclone copy --files-from keys.txt --no-traverse`` (rclone's advice for
  a short list), on its defaults otherwise, if ``--rclone`` names the
  binary (Debian's ``rclone`` package: ``apt-get download rclone`` and
  ``dpkg-deb -x`` give one without installing).

It prints the median wall time and the CPU of the command and its children.

    python -m benchmarks.files_from --weed PATH/TO/weed [--s5cmd PATH] \
        [--rclone PATH]

Not part of ``benchmarks/run.py``; its figures are written by hand into
``where-the-time-goes.md``, which RESULTS.md includes.
"""
import argparse
import os
import shutil
import sys

import awscli  # noqa: F401  (before botocore: the CLI's vendored copy)

from benchmarks.cli_runs import AWS, cli_env, median_timed, put_objects, run
from benchmarks.server import seaweedfs
from tests.s3server import make_s3_client

BUCKET = 'files-from'
PREFIX = 'p/'


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--weed', required=True)
    parser.add_argument('--s5cmd', help='the s5cmd binary (optional)')
    parser.add_argument('--rclone', help='the rclone binary (optional)')
    parser.add_argument('--objects', type=int, default=20000)
    parser.add_argument('--every', type=int, default=10,
                        help='name every N-th object (N=10 for the filter)')
    parser.add_argument('--size', type=int, default=4096)
    parser.add_argument('--runs', type=int, default=3)
    args = parser.parse_args()
    if args.every != 10:
        # The filter picks the keys ending in 0: every tenth.
        parser.error('--every must be 10')
    # This checkout's plugin, whichever the venv has installed.
    home, env = cli_env('ppdl-files-from-', pythonpath=os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))
    named = [f'{number:05}' for number in range(0, args.objects, args.every)]
    with open(f'{home}/keys.txt', 'w') as f:
        f.writelines(f'{key}\n' for key in named)
    with seaweedfs(args.weed).start() as server:
        client = make_s3_client(server.endpoint_url)
        client.create_bucket(Bucket=BUCKET)
        put_objects(client, BUCKET, (f'{PREFIX}{number:05}'
                                     for number in range(args.objects)),
                    args.size)
        source = f's3://{BUCKET}/{PREFIX}'
        commands = {
            'ppcp --files-from': [
                AWS, 's3', 'ppcp', source, 'out', '--files-from',
                f'{home}/keys.txt', '--endpoint-url', server.endpoint_url,
                '--no-progress', '--only-show-errors'],
            'ppcp --recursive, filters': [
                AWS, 's3', 'ppcp', source, 'out', '--recursive',
                '--exclude', '*', '--include', '*0',
                '--endpoint-url', server.endpoint_url, '--no-progress',
                '--only-show-errors'],
        }
        if args.s5cmd:
            with open(f'{home}/s5cmd.txt', 'w') as f:
                f.writelines(f'cp {source}{key} out/{key}\n'
                             for key in named)
            commands['s5cmd run'] = [
                args.s5cmd, '--endpoint-url', server.endpoint_url, 'run',
                f'{home}/s5cmd.txt']
        if args.rclone:
            commands['rclone copy --files-from'] = [
                args.rclone, 'copy', '--files-from', f'{home}/keys.txt',
                '--no-traverse', '--s3-provider', 'Other',
                '--s3-endpoint', server.endpoint_url,
                '--s3-access-key-id', 'any', '--s3-secret-access-key', 'any',
                '--s3-region', 'us-east-1', f':s3:{BUCKET}/{PREFIX}', 'out']
        print(f'{len(named)} named of {args.objects} objects of '
              f'{args.size} bytes, median of {args.runs}, '
              f'{os.cpu_count()} CPUs')
        times = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                times[name].append(run(argv, env, home))
                if sorted(os.listdir(f'{home}/out')) != named:
                    sys.exit(f'{name} did not download the named objects')
                shutil.rmtree(f'{home}/out')
        for name, samples in times.items():
            median = median_timed(samples)
            print(f'{name:26}: {median.wall:6.2f} s wall, {median.cpu:6.2f} '
                  's CPU (command + children)')
    shutil.rmtree(home)


if __name__ == '__main__':
    main()
