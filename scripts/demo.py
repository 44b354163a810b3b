"""A real ``aws s3 ppcp`` download against a local S3 endpoint it starts itself.

Starts moto's S3 server on 127.0.0.1, seeds a bucket with a few objects (one
of them large enough for ranged GETs), registers the plugin in a throw-away
AWS config (your ~/.aws is not touched), runs ``aws s3 ppcp --recursive``,
checks every downloaded byte, and stops the server by its PID. What it made
under $TMPDIR (the download, the throw-away config, moto's log) is removed
when the demo succeeds, and kept to look at when it fails.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.s3server import MotoServer, make_aws_env, make_s3_client  # noqa

BUCKET = 'ppcp-demo'
OBJECTS = {
    'reports/2026/summary.txt': b'Quarterly summary: all green.\n' * 40,
    'reports/2026/q3/details.csv': b'id,value\n' + b'1,42\n' * 5000,
    'images/logo.bin': os.urandom(64 * 1024),
    'datasets/large.bin': os.urandom(24 * 1024 * 1024 + 12345),
}


def main():
    workdir = tempfile.mkdtemp(prefix='ppcp-demo-')
    with MotoServer() as server:
        returncode = run_demo(server, workdir)
    if returncode == 0:
        shutil.rmtree(workdir)
        server.remove_log()
        print(f'Removed {workdir} and the server log.')
    else:
        print(f'Kept for a look: {workdir} and {server.log_path}',
              file=sys.stderr)
    return returncode


def run_demo(server, workdir):
    destination = os.path.join(workdir, 'download')
    print(f'Local S3 endpoint: {server.endpoint_url} (moto, pid '
          f'{server.pid})')
    client = make_s3_client(server.endpoint_url)
    client.create_bucket(Bucket=BUCKET)
    for key, body in OBJECTS.items():
        client.put_object(Bucket=BUCKET, Key=key, Body=body)
    print(f'Seeded s3://{BUCKET}/ with {len(OBJECTS)} objects.\n')
    command = ['aws', 's3', 'ppcp', f's3://{BUCKET}/', destination,
               '--recursive', '--endpoint-url', server.endpoint_url]
    print('$ ' + ' '.join(command))
    env = make_aws_env(os.path.join(workdir, 'aws'))
    returncode = subprocess.call(command, env=env)
    if returncode != 0:
        print(f'aws s3 ppcp exited with {returncode}', file=sys.stderr)
        return returncode
    for key, body in OBJECTS.items():
        with open(os.path.join(destination, key), 'rb') as f:
            if hashlib.sha256(f.read()).digest() != hashlib.sha256(body).digest():
                print(f'MISMATCH: {key}', file=sys.stderr)
                return 1
    print(f'\nAll {len(OBJECTS)} files verified (sha256).')
    return 0


if __name__ == '__main__':
    sys.exit(main())
