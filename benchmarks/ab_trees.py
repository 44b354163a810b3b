"""An A/B of ``aws s3 ppcp`` from two or more source trees (checkouts or
git worktrees of this repo), runs alternating so that a busy machine slows
every tree alike: did a change make a data set slower?

Uploads ``--count`` objects of ``--size`` bytes to a fresh ``weed mini`` on
127.0.0.1, then downloads them with ``--recursive`` into a fresh directory,
tree after tree (A B, then B A, ...), ``--runs`` times each, and prints the
median wall time and the CPU of the ``aws`` process and its children
(``RUSAGE_CHILDREN``, also as user and system time; the server's CPU
is not counted). Each tree runs with
its root first on ``PYTHONPATH``, ahead of the installed package.

    python -m benchmarks.ab_trees --weed PATH/TO/weed TREE_A TREE_B \\
        [--count 5000] [--size 16384] [--runs 9] [--s3-setting K=V ...] \\
        [--one-object] [--s5cmd PATH/TO/s5cmd] [--fresh-ext4]

``--one-object`` also times, in each round, each tree's download of one
object of 1 byte: the CLI's own start-up and exit, which no download
avoids; each tree's figures are then also given less that run's.
``--s5cmd`` also times ``s5cmd cp`` of the same objects in each round
(a large object: ``--count 1 --size 1073741824``). ``--fresh-ext4``
(root) downloads into a fresh journaled ext4 on a loop device, where
``run.py`` writes (``destfs``), instead of a temporary directory.

Not part of ``benchmarks/run.py``; figures it gave are written by hand
into ``where-the-time-goes.md``, which RESULTS.md includes.
"""
import argparse
import contextlib
import os
import pathlib
import shutil

import awscli  # noqa: F401  (before botocore: the CLI's vendored copy)

from benchmarks.cli_runs import AWS, cli_env, median_timed, put_objects, run
from benchmarks.destfs import downloads_filesystem
from benchmarks.server import seaweedfs
from tests.s3server import make_s3_client

BUCKET = 'ab-trees'
WORK_DIR = pathlib.Path(__file__).with_name('.work')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--weed', required=True)
    parser.add_argument('trees', nargs='+')
    parser.add_argument('--count', type=int, default=5000)
    parser.add_argument('--size', type=int, default=16384)
    parser.add_argument('--runs', type=int, default=9)
    parser.add_argument('--s3-setting', action='append', default=[],
                        help="a line of the profile's s3 settings, K = V")
    parser.add_argument('--one-object', action='store_true',
                        help="also time each tree's download of 1 byte")
    parser.add_argument('--s5cmd', help='also time this s5cmd binary')
    parser.add_argument('--fresh-ext4', action='store_true',
                        help="download into a fresh journaled ext4, as "
                        "run.py does (root), not into a temporary directory")
    args = parser.parse_args()
    home, base_env = cli_env('ppdl-ab-trees-', args.s3_setting)
    trees = [os.path.abspath(tree) for tree in args.trees]
    samples = {tree: [] for tree in trees}
    one_object = {tree: [] for tree in trees}
    s5cmd = []
    with contextlib.ExitStack() as stack:
        out = f'{home}/out'
        if args.fresh_ext4:
            destination = stack.enter_context(downloads_filesystem(
                WORK_DIR, args.count * args.size, print))
            out = str(destination.root / 'out')
        server = stack.enter_context(seaweedfs(args.weed).start())
        client = make_s3_client(server.endpoint_url)
        client.create_bucket(Bucket=BUCKET)
        put_objects(client, BUCKET, (f'o/{i:07d}' for i in range(args.count)),
                    args.size)
        put_objects(client, BUCKET, ['one/byte'], 1)

        def ppcp(tree, source):
            result = run([AWS, 's3', 'ppcp', source, out, '--recursive',
                          '--endpoint-url', server.endpoint_url,
                          '--no-progress', '--only-show-errors'],
                         dict(base_env, PYTHONPATH=tree))
            shutil.rmtree(out)
            return result

        for run_index in range(args.runs):
            order = trees if run_index % 2 == 0 else trees[::-1]
            for tree in order:
                samples[tree].append(ppcp(tree, f's3://{BUCKET}/o/'))
                if args.one_object:
                    one_object[tree].append(ppcp(tree, f's3://{BUCKET}/one/'))
            if args.s5cmd:
                s5cmd.append(run(
                    [args.s5cmd, '--endpoint-url', server.endpoint_url, 'cp',
                     f's3://{BUCKET}/o/*', f'{out}/'], base_env))
                shutil.rmtree(out)
    print(f'{args.count} x {args.size} B, median of {args.runs}, '
          f'{os.cpu_count()} CPUs, s3 settings {args.s3_setting}')
    for tree, runs in samples.items():
        median = median_timed(runs)
        print(f'{tree}: {median.wall:6.2f} s wall, {median.cpu:6.2f} s CPU '
              f'(aws + children; user {median.user:.2f}, system '
              f'{median.system:.2f}); '
              f'walls {sorted(round(s[0], 2) for s in runs)}'
              f', CPUs {sorted(round(s[1], 2) for s in runs)}')
        if args.one_object:
            startup = median_timed(one_object[tree])
            print(f'  one object: {startup.wall:6.2f} s wall, '
                  f'{startup.cpu:6.2f} s CPU; less it: '
                  f'{median.wall - startup.wall:6.2f} s wall, '
                  f'{median.cpu - startup.cpu:6.2f} s CPU (user '
                  f'{median.user - startup.user:.2f}, system '
                  f'{median.system - startup.system:.2f})')
    if s5cmd:
        median = median_timed(s5cmd)
        print(f's5cmd: {median.wall:6.2f} s wall, {median.cpu:6.2f} s CPU '
              f'(user {median.user:.2f}, system {median.system:.2f}); walls '
              f'{sorted(round(s[0], 2) for s in s5cmd)}, CPUs '
              f'{sorted(round(s[1], 2) for s in s5cmd)}')
    shutil.rmtree(home)


if __name__ == '__main__':
    main()
