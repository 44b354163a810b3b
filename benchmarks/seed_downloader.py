"""The seed design: s3transfer's ProcessPoolDownloader, driven as documented.

Run with the python of ``benchmarks/.work/seed-venv`` (standalone boto3,
botocore and s3transfer).  It must not import awscli: awscli 1.46 aliases
botocore/s3transfer to its vendored copies, whose s3transfer has no
``processpool`` module.

It lists the prefix (or the single key) with ListObjectsV2 and hands every
object to ``download_file`` with ``expected_size`` from the listing, so no
HeadObject is spent, with the downloader's default configuration (10
processes, 8 MiB parts).  Exit status 1 if any download failed.
"""
import argparse
import os
import sys

import botocore.session
from s3transfer.processpool import ProcessPoolDownloader


def list_objects(client, bucket, prefix):
    """(key, size) of every object under ``prefix``."""
    paginator = client.get_paginator('list_objects_v2')
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get('Contents', ()):
            yield item['Key'], item['Size']


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--endpoint-url', required=True)
    parser.add_argument('--bucket', required=True)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument('--prefix', help='download every object under it')
    target.add_argument('--key', help='download this one object')
    parser.add_argument('--dest', required=True, help='download directory')
    args = parser.parse_args(argv)

    client_kwargs = {'endpoint_url': args.endpoint_url,
                     'region_name': 'us-east-1'}
    client = botocore.session.get_session().create_client('s3',
                                                          **client_kwargs)
    if args.key is not None:
        listed = [(key, size) for key, size
                  in list_objects(client, args.bucket, args.key)
                  if key == args.key]
        if not listed:
            print(f'no such key: {args.key}', file=sys.stderr)
            return 1
        strip = args.key.rsplit('/', 1)[0] + '/' if '/' in args.key else ''
    else:
        listed = list(list_objects(client, args.bucket, args.prefix))
        strip = args.prefix

    failures = 0
    with ProcessPoolDownloader(client_kwargs=client_kwargs) as downloader:
        futures = []
        made_dirs = set()
        for key, size in listed:
            path = os.path.join(args.dest, key[len(strip):])
            parent = os.path.dirname(path)
            if parent not in made_dirs:
                os.makedirs(parent, exist_ok=True)
                made_dirs.add(parent)
            futures.append((key, downloader.download_file(
                args.bucket, key, path, expected_size=size)))
        for key, future in futures:
            try:
                future.result()
            except Exception as exc:  # report every failure, then exit 1
                failures += 1
                print(f'download failed: {key}: {exc!r}', file=sys.stderr)
    print(f'downloaded {len(listed) - failures} of {len(listed)} objects')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
