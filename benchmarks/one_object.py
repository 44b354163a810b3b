"""One small object, every destination form, ``aws s3 ppcp`` against
``aws s3 cp`` (issue 29): a script's most common command must not pay for
the pool.

Uploads one ``--size`` object (default 1 KiB) to a fresh ``weed mini`` on
127.0.0.1, then times alternating pairs (cp then ppcp, then ppcp then cp,
...), ``--runs`` pairs per destination form, each run into a fresh empty
directory:

* ``DIR/``: ``aws s3 ... s3://b/tiny/t.bin DIR/``;
* ``.``: the same from inside ``DIR``;
* ``DIR/t.bin``: the file named;
* ``existing``: ``DIR/`` where ``t.bin`` already is (it is replaced).

Prints the median wall time and CPU of each command and ppcp's wall as a
multiple of cp's (the target: at most 1.05).

    python -m benchmarks.one_object --weed PATH/TO/weed [--runs 7]

Not part of ``benchmarks/run.py``; its figures are in
``where-the-time-goes.md``.
"""
import argparse
import os
import shutil

import awscli  # noqa: F401  (before botocore: the CLI's vendored copy)

from benchmarks.cli_runs import AWS, cli_env, median_timed, put_objects, run
from benchmarks.server import seaweedfs
from tests.s3server import make_s3_client

BUCKET = 'one-object'
KEY = 'tiny/t.bin'
SOURCE = f's3://{BUCKET}/{KEY}'
# Destination form: (working directory, destination), relative to DIR.
FORMS = {
    'DIR/': ('..', 'DIR/'),
    '.': ('.', '.'),
    'DIR/t.bin': ('..', 'DIR/t.bin'),
    'existing': ('..', 'DIR/'),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--weed', required=True)
    parser.add_argument('--size', type=int, default=1024)
    parser.add_argument('--runs', type=int, default=7)
    args = parser.parse_args()
    # This checkout's plugin, whichever the venv has installed.
    home, env = cli_env('ppdl-one-object-', pythonpath=os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))
    directory = os.path.join(home, 'DIR')
    with seaweedfs(args.weed).start() as server:
        client = make_s3_client(server.endpoint_url)
        client.create_bucket(Bucket=BUCKET)
        put_objects(client, BUCKET, [KEY], args.size)
        print(f'one {args.size} B object, {args.runs} alternating pairs, '
              f'{os.cpu_count()} CPUs')
        for form, (cwd, dest) in FORMS.items():
            samples = {'cp': [], 'ppcp': []}
            for pair in range(args.runs):
                for command in (('cp', 'ppcp') if pair % 2 == 0
                                else ('ppcp', 'cp')):
                    shutil.rmtree(directory, ignore_errors=True)
                    os.mkdir(directory)
                    if form == 'existing':
                        with open(os.path.join(directory, 't.bin'),
                                  'wb') as f:
                            f.write(b'old')
                    samples[command].append(run(
                        [AWS, 's3', command, SOURCE, dest, '--endpoint-url',
                         server.endpoint_url],
                        env, os.path.normpath(os.path.join(directory, cwd))))
                    with open(os.path.join(directory, 't.bin'), 'rb') as f:
                        if len(f.read()) != args.size:
                            raise SystemExit(f'{command} {form}: wrong bytes')
            medians = {c: median_timed(runs) for c, runs in samples.items()}
            walls = {c: median.wall for c, median in medians.items()}
            cpus = {c: median.cpu for c, median in medians.items()}
            print(f'{form:10} cp {walls["cp"]:5.3f} s ({cpus["cp"]:4.2f} '
                  f'CPU-s), ppcp {walls["ppcp"]:5.3f} s ({cpus["ppcp"]:4.2f} '
                  f'CPU-s): {walls["ppcp"] / walls["cp"]:4.2f}x')
    shutil.rmtree(home)


if __name__ == '__main__':
    main()
