"""``aws s3 ppcp s3://b/prefix/ DIR --files-from LIST`` (issue 25): exactly
the objects a list names, laid out as ``--recursive`` lays them out, with
no ListObjects and no HeadObject (requests counted at the fault proxy),
through the real CLI driver against moto."""
import io
import os
import re
import sys

import pytest

from tests.helpers import (
    assert_no_temp_files, file_sha256, files_under, output_lines, sha256)

MiB = 1024 * 1024


def write_list(path, *lines, ending=b'\n'):
    path.write_bytes(b''.join(
        (line if isinstance(line, bytes) else line.encode()) + ending
        for line in lines))
    return path


def listings(proxy):
    """The proxy's ListObjects (any GET of a bucket, not of a key)."""
    return [r for r in proxy.find_requests(method='GET')
            if r.key_path.strip('/').count('/') == 0]


@pytest.fixture
def objects(s3_client, bucket):
    """``data/`` with a few objects, and one outside it."""
    bodies = {'data/a.txt': b'a\n', 'data/sub/b.txt': b'bb\n',
              'data/sub/c.log': b'ccc\n', 'data/empty': b'',
              'data/#hash': b'hash\n', 'other/x.txt': b'x\n'}
    for key, body in bodies.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    return bodies


def test_listed_keys_and_uris_are_downloaded_as_recursive_lays_them_out(
        ppcp, bucket, objects, workdir, fault_proxy):
    keys = write_list(workdir.parent / 'keys.txt',
                      '# comment', '', 'a.txt', f's3://{bucket}/data/sub/b.txt',
                      'empty', f's3://{bucket}/data/#hash')
    result = ppcp(f's3://{bucket}/data/', 'out', '--files-from', keys, '--no-progress',
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result
    assert sorted(output_lines(result.stdout)) == sorted(
        f'download: s3://{bucket}/data/{key} to out/{key}'
        for key in ('a.txt', 'sub/b.txt', 'empty', '#hash'))
    assert files_under(workdir) == {'out/a.txt', 'out/sub/b.txt', 'out/empty',
                                    'out/#hash'}
    assert (workdir / 'out/sub/b.txt').read_bytes() == b'bb\n'
    assert (workdir / 'out/empty').read_bytes() == b''
    assert fault_proxy.find_requests(method='HEAD') == []
    assert listings(fault_proxy) == []


def test_a_thousand_listed_keys_cost_a_get_each_and_nothing_else(
        ppcp, s3_client, bucket, workdir, fault_proxy):
    """1,000 keys named out of a prefix of 1,500: zero ListObjects, zero
    HeadObject, one GET per (small) object, each GET a range of the first
    part, which the whole object fits."""
    for number in range(1500):
        s3_client.put_object(Bucket=bucket, Key=f'p/{number:04}',
                             Body=b'%d\n' % number)
    named = [f'{number:04}' for number in range(0, 1500, 3)] + [
        f'{number:04}' for number in range(1, 1500, 3)][:500]
    keys = write_list(workdir.parent / 'keys.txt', *named)
    fault_proxy.clear_requests()
    result = ppcp(f's3://{bucket}/p/', 'out', '--files-from', keys,
                  '--no-progress', endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    assert len(output_lines(result.stdout)) == 1000
    assert files_under(workdir / 'out') == set(named)
    assert (workdir / 'out/1498').read_bytes() == b'1498\n'
    assert fault_proxy.find_requests(method='HEAD') == []
    assert listings(fault_proxy) == []
    gets = fault_proxy.find_requests(method='GET')
    assert sorted(r.key_path for r in gets) == sorted(
        f'/{bucket}/p/{key}' for key in named)
    assert {r.range for r in gets} == {(0, 8 * MiB - 1)}
    assert len(fault_proxy.requests) == 1000


def test_bad_lines_fail_with_their_line_and_the_rest_goes_on(
        ppcp, bucket, objects, workdir, fault_proxy):
    """A missing key fails as cp's download of a missing object does (the
    GET's 404); a line outside the source, not UTF-8, naming a prefix or
    with too many columns fails with its line number, and no request; the
    others are downloaded; exit 1."""
    keys = write_list(
        workdir.parent / 'keys.txt',
        'a.txt', 'missing', f's3://{bucket}/other/x.txt', 's3://elsewhere/k',
        b'\xff\xfe', 'sub/', 'sub/c.log\tv1\textra', 'sub/b.txt')
    result = ppcp(f's3://{bucket}/data/', 'out', '--files-from', keys,
                  '--no-progress', endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 1
    assert sorted(output_lines(result.stdout)) == [
        f'download: s3://{bucket}/data/a.txt to out/a.txt',
        f'download: s3://{bucket}/data/sub/b.txt to out/sub/b.txt']
    assert sorted(output_lines(result.stderr)) == sorted([
        f'download failed: s3://{bucket}/data/missing to out/missing An '
        'error occurred (NoSuchKey) when calling the GetObject operation: '
        'The specified key does not exist.',
        f'download failed: s3://{bucket}/other/x.txt ({keys}, line 3) is '
        f'not under s3://{bucket}/data/',
        f'download failed: s3://elsewhere/k ({keys}, line 4) is not under '
        f's3://{bucket}/data/',
        f'download failed: {keys}, line 5 is not valid UTF-8',
        f'download failed: s3://{bucket}/data/sub/ ({keys}, line 6) names '
        'a prefix, not an object',
        f'download failed: s3://{bucket}/data/sub/c.log ({keys}, line 7) '
        'has 3 columns: a line is a key, or key<TAB>versionId'])
    assert files_under(workdir) == {'out/a.txt', 'out/sub/b.txt'}
    assert_no_temp_files(workdir)
    assert sorted(r.key_path for r in fault_proxy.requests) == [
        f'/{bucket}/data/a.txt', f'/{bucket}/data/missing',
        f'/{bucket}/data/sub/b.txt']


@pytest.mark.parametrize('content, reason', [
    (b'\x1f\x8b\x08\x00\x00\x00\x00\x00', 'it holds binary data'),
    (b'a.txt\n\x00\x01', 'it holds binary data'),
])
def test_a_file_that_is_not_a_list_is_refused_before_anything(
        content, reason, ppcp, bucket, objects, workdir, fault_proxy):
    keys = workdir.parent / 'keys.bin'
    keys.write_bytes(content)
    result = ppcp(f's3://{bucket}/data/', 'out', '--files-from', keys,
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 255
    assert result.stdout == ''
    assert output_lines(result.stderr) == [
        f'--files-from {keys} is not a list of keys: {reason}. A list is '
        'UTF-8 text, one key or s3:// URI a line.']
    assert files_under(workdir) == set()
    assert fault_proxy.requests == []


def test_a_list_that_cannot_be_read_is_refused(ppcp, bucket, workdir,
                                               fault_proxy):
    missing = workdir.parent / 'nowhere.txt'
    result = ppcp(f's3://{bucket}/data/', 'out', '--files-from', missing,
                  endpoint_url=fault_proxy.endpoint_url)
    assert (result.returncode, output_lines(result.stderr)) == (
        255, [f'--files-from {missing}: No such file or directory.'])
    assert files_under(workdir) == set()
    assert fault_proxy.requests == []


@pytest.mark.parametrize('dest, args, message', [
    ('-', (), '--files-from downloads to a directory: it cannot write to '
              'standard output (-).'),
    ('out', ('--version-id', 'v1'),
     '--version-id cannot be used with --files-from: give each object\'s '
     'version in the list (key<TAB>versionId).'),
    ('out', ('--case-conflict', 'warn'),
     '--case-conflict cannot be used with --files-from: it compares the '
     'source listed in order with the destination.'),
], ids=['stdout', 'version-id', 'case-conflict'])
def test_arguments_that_cannot_go_with_a_list_are_refused(
        dest, args, message, ppcp, bucket, objects, workdir, fault_proxy):
    keys = write_list(workdir.parent / 'keys.txt', 'a.txt')
    result = ppcp(f's3://{bucket}/data/', dest, '--files-from', keys, *args,
                  endpoint_url=fault_proxy.endpoint_url)
    assert (result.returncode, output_lines(result.stderr)) == (255, [message])
    assert files_under(workdir) == set()
    assert fault_proxy.requests == []


def test_the_list_from_standard_input(ppcp, bucket, objects, workdir,
                                      monkeypatch):
    """``-``: the list is read from standard input (CRLF line ends too)."""
    monkeypatch.setattr(sys, 'stdin', io.TextIOWrapper(io.BufferedReader(
        io.BytesIO(b'a.txt\r\nsub/c.log\r\n'))))
    result = ppcp(f's3://{bucket}/data', 'out', '--files-from', '-',
                  '--no-progress')
    assert result.returncode == 0, result.stderr
    assert files_under(workdir) == {'out/a.txt', 'out/sub/c.log'}
    assert (workdir / 'out/sub/c.log').read_bytes() == b'ccc\n'


def test_filters_dry_run_and_no_overwrite_apply_to_listed_keys(
        ppcp, bucket, objects, workdir, fault_proxy):
    keys = write_list(workdir.parent / 'keys.txt', 'a.txt', 'sub/b.txt',
                      'sub/c.log')
    args = (f's3://{bucket}/data/', 'out', '--files-from', keys,
            '--exclude', '*.log', '--no-progress')
    dry = ppcp(*args, '--dryrun', endpoint_url=fault_proxy.endpoint_url)
    assert dry.returncode == 0
    assert sorted(output_lines(dry.stdout)) == [
        f'(dryrun) download: s3://{bucket}/data/a.txt to out/a.txt',
        f'(dryrun) download: s3://{bucket}/data/sub/b.txt to out/sub/b.txt']
    assert fault_proxy.requests == []
    (workdir / 'out').mkdir(exist_ok=True)
    (workdir / 'out/a.txt').write_bytes(b'mine')
    result = ppcp(*args, '--no-overwrite',
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    assert output_lines(result.stdout) == [
        f'download: s3://{bucket}/data/sub/b.txt to out/sub/b.txt']
    assert (workdir / 'out/a.txt').read_bytes() == b'mine'
    assert files_under(workdir) == {'out/a.txt', 'out/sub/b.txt'}
    assert [r.key_path for r in fault_proxy.requests] == [
        f'/{bucket}/data/sub/b.txt']


def test_the_files_mtime_is_the_objects_last_modified(
        ppcp, s3_client, bucket, objects, workdir):
    keys = write_list(workdir.parent / 'keys.txt', 'a.txt')
    result = ppcp(f's3://{bucket}/data/', 'out', '--files-from', keys,
                  '--no-progress')
    assert (result.returncode, result.stderr) == (0, '')
    modified = s3_client.head_object(Bucket=bucket,
                                     Key='data/a.txt')['LastModified']
    assert os.stat(workdir / 'out/a.txt').st_mtime == int(
        modified.timestamp())


def test_a_larger_object_is_fetched_in_parts_after_its_first_get(
        ppcp, aws_env, s3_client, bucket, workdir, fault_proxy):
    """The first GET (a 5 MiB range) tells the size; the other parts
    follow with IfMatch of its ETag; no HeadObject."""
    aws_env.set_config('s3', {'multipart_threshold': '5MB',
                              'multipart_chunksize': '5MB'})
    body = os.urandom(12 * MiB + 5)
    etag = s3_client.put_object(Bucket=bucket, Key='d/big',
                                Body=body)['ETag']
    keys = write_list(workdir.parent / 'keys.txt', 'big')
    result = ppcp(f's3://{bucket}/d/', 'out', '--files-from', keys,
                  '--no-progress', endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    assert file_sha256(workdir / 'out/big') == sha256(body)
    gets = fault_proxy.find_requests(method='GET')
    assert sorted((r.range, r.headers.get('If-Match')) for r in gets) == [
        ((0, 5 * MiB - 1), None), ((5 * MiB, 10 * MiB - 1), etag),
        ((10 * MiB, 12 * MiB + 4), etag)]
    assert fault_proxy.find_requests(method='HEAD') == []


def test_a_version_column_downloads_that_version(
        ppcp, aws_env, s3_client, bucket, workdir, fault_proxy):
    """``key<TAB>versionId`` against a versioned bucket: an old version
    (fetched in parts, though the latest is small), the latest by its ID, a
    delete marker's ID and a missing version (cp's GetObject errors), a
    key without a version (the latest)."""
    aws_env.set_config('s3', {'multipart_threshold': '5MB',
                              'multipart_chunksize': '5MB'})
    s3_client.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={'Status': 'Enabled'})
    old_body = os.urandom(12 * MiB + 7)
    old = s3_client.put_object(Bucket=bucket, Key='v/old', Body=old_body)
    s3_client.put_object(Bucket=bucket, Key='v/old', Body=b'newer\n')
    latest = s3_client.put_object(Bucket=bucket, Key='v/latest',
                                  Body=b'latest\n')
    s3_client.put_object(Bucket=bucket, Key='v/gone', Body=b'gone\n')
    marker = s3_client.delete_object(Bucket=bucket, Key='v/gone')
    s3_client.put_object(Bucket=bucket, Key='v/plain', Body=b'plain v1\n')
    s3_client.put_object(Bucket=bucket, Key='v/plain', Body=b'plain v2\n')
    missing = 'x' * len(old['VersionId'])
    keys = write_list(
        workdir.parent / 'keys.txt', f'old\t{old["VersionId"]}',
        f's3://{bucket}/v/latest\t{latest["VersionId"]}',
        f'gone\t{marker["VersionId"]}', f'plain\t{missing}', 'plain')
    result = ppcp(f's3://{bucket}/v/', 'out', '--files-from', keys,
                  '--no-progress', endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 1
    assert file_sha256(workdir / 'out/old') == sha256(old_body)
    assert (workdir / 'out/latest').read_bytes() == b'latest\n'
    assert (workdir / 'out/plain').read_bytes() == b'plain v2\n'
    assert files_under(workdir) == {'out/old', 'out/latest', 'out/plain'}
    assert_no_temp_files(workdir)
    # The GetObject errors as cp prints them; S3 answers a delete marker's
    # version with 405 MethodNotAllowed, moto with 404 NoSuchVersion.
    assert sorted(output_lines(result.stderr)) == [
        f'download failed: s3://{bucket}/v/gone to out/gone An error '
        'occurred (NoSuchVersion) when calling the GetObject operation: The '
        'specified version does not exist.',
        f'download failed: s3://{bucket}/v/plain to out/plain An error '
        'occurred (NoSuchVersion) when calling the GetObject operation: The '
        'specified version does not exist.']
    old_gets = fault_proxy.find_requests(method='GET', key='v/old')
    assert len(old_gets) == 3
    assert {r.params['versionId'][0] for r in old_gets} == {
        old['VersionId']}
    assert fault_proxy.find_requests(method='HEAD') == []


def inventory_report(s3_client, bucket, rows, columns, directory,
                     file_format='CSV', files=2):
    """An S3 Inventory report of ``bucket`` as AWS writes one, in
    ``bucket`` itself under ``inv/``: ``rows`` (dicts of ``columns``) in
    ``files`` gzipped CSV files (no header, every field quoted, keys
    URL-encoded), and its manifest.json, also written to ``directory``;
    the manifest's local path."""
    import csv
    import gzip
    import json
    import urllib.parse

    keys = []
    for number in range(files):
        text = io.StringIO()
        writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator='\n')
        for row in rows[number::files]:
            writer.writerow([urllib.parse.quote_plus(row[column])
                             if column == 'Key' else row[column]
                             for column in columns])
        key = f'inv/{bucket}/data/{number}.csv.gz'
        s3_client.put_object(Bucket=bucket, Key=key,
                             Body=gzip.compress(text.getvalue().encode()))
        keys.append(key)
    manifest = json.dumps({
        'sourceBucket': bucket,
        'destinationBucket': f'arn:aws:s3:::{bucket}',
        'version': '2016-11-30', 'creationTimestamp': '1514944800000',
        'fileFormat': file_format, 'fileSchema': ', '.join(columns),
        'files': [{'key': key, 'size': 1, 'MD5checksum': '0'}
                  for key in keys]}).encode()
    s3_client.put_object(Bucket=bucket, Key='inv/manifest.json',
                         Body=manifest)
    path = directory / 'manifest.json'
    path.write_bytes(manifest)
    return path


def inventory_row(s3_client, bucket, key, **columns):
    head = s3_client.head_object(Bucket=bucket, Key=key,
                                 **({'VersionId': columns['VersionId']}
                                    if 'VersionId' in columns else {}))
    return dict({'Bucket': bucket, 'Key': key,
                 'Size': str(head['ContentLength']),
                 'LastModifiedDate': head['LastModified'].strftime(
                     '%Y-%m-%dT%H:%M:%S.000Z'),
                 'ETag': head['ETag'].strip('"')}, **columns)


COLUMNS = ['Bucket', 'Key', 'Size', 'LastModifiedDate', 'ETag']


@pytest.mark.parametrize('where', ['local', 's3'])
def test_an_inventory_report_plans_every_get_from_its_sizes(
        where, ppcp, aws_env, s3_client, bucket, workdir, fault_proxy):
    """A CSV report, by its local manifest.json or its s3:// URI: the
    objects under the source prefix are downloaded (keys URL-decoded),
    others skipped; each small object is one whole GET and a larger one's
    parts are planned from the report's size with IfMatch of its ETag: no
    ListObjects, no HeadObject, no sizing range. The mtime is the
    report's LastModifiedDate."""
    aws_env.set_config('s3', {'multipart_threshold': '5MB',
                              'multipart_chunksize': '5MB'})
    big = os.urandom(11 * MiB)
    bodies = {'data/a b+c.txt': b'spaced\n', 'data/sub/d.txt': b'd\n',
              'data/big': big, 'elsewhere/e.txt': b'e\n'}
    for key, body in bodies.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    rows = [inventory_row(s3_client, bucket, key) for key in bodies]
    manifest = inventory_report(s3_client, bucket, rows, COLUMNS,
                                workdir.parent)
    source = (str(manifest) if where == 'local'
              else f's3://{bucket}/inv/manifest.json')
    fault_proxy.clear_requests()
    result = ppcp(f's3://{bucket}/data/', 'out', '--files-from', source,
                  '--no-progress', endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    assert files_under(workdir) == {'out/a b+c.txt', 'out/sub/d.txt',
                                    'out/big'}
    assert (workdir / 'out/a b+c.txt').read_bytes() == b'spaced\n'
    assert file_sha256(workdir / 'out/big') == sha256(big)
    assert fault_proxy.find_requests(method='HEAD') == []
    assert listings(fault_proxy) == []
    gets = [(r.key_path.split('/', 2)[2], r.range, r.headers.get('If-Match'))
            for r in fault_proxy.find_requests(method='GET')]
    etag = f'"{rows[2]["ETag"]}"'
    report = [('inv/manifest.json', None, None)] if where == 's3' else []
    assert sorted(gets, key=str) == sorted(report + [
        (f'inv/{bucket}/data/0.csv.gz', None, None),
        (f'inv/{bucket}/data/1.csv.gz', None, None),
        ('data/a b+c.txt', None, None), ('data/sub/d.txt', None, None),
        ('data/big', (0, 5 * MiB - 1), etag),
        ('data/big', (5 * MiB, 10 * MiB - 1), etag),
        ('data/big', (10 * MiB, 11 * MiB - 1), etag)], key=str)
    modified = s3_client.head_object(Bucket=bucket,
                                     Key='data/sub/d.txt')['LastModified']
    assert os.stat(workdir / 'out/sub/d.txt').st_mtime == int(
        modified.timestamp())


def test_an_inventory_of_versions_downloads_the_versions_it_lists(
        ppcp, s3_client, bucket, workdir, fault_proxy):
    """A report with VersionId, IsLatest and IsDeleteMarker: the latest
    version of each key as the report saw it, even once a newer one has
    been written; older versions and delete markers are skipped."""
    s3_client.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={'Status': 'Enabled'})
    first = s3_client.put_object(Bucket=bucket, Key='data/k', Body=b'v1\n')
    second = s3_client.put_object(Bucket=bucket, Key='data/k', Body=b'v2\n')
    gone = s3_client.put_object(Bucket=bucket, Key='data/gone', Body=b'g\n')
    marker = s3_client.delete_object(Bucket=bucket, Key='data/gone')
    columns = COLUMNS + ['VersionId', 'IsLatest', 'IsDeleteMarker']
    rows = [
        inventory_row(s3_client, bucket, 'data/k',
                      VersionId=first['VersionId'], IsLatest='false',
                      IsDeleteMarker='false'),
        inventory_row(s3_client, bucket, 'data/k',
                      VersionId=second['VersionId'], IsLatest='true',
                      IsDeleteMarker='false'),
        inventory_row(s3_client, bucket, 'data/gone',
                      VersionId=gone['VersionId'], IsLatest='false',
                      IsDeleteMarker='false'),
        dict(Bucket=bucket, Key='data/gone', Size='', LastModifiedDate='',
             ETag='', VersionId=marker['VersionId'], IsLatest='true',
             IsDeleteMarker='true')]
    manifest = inventory_report(s3_client, bucket, rows, columns,
                                workdir.parent, files=1)
    s3_client.put_object(Bucket=bucket, Key='data/k', Body=b'v3, newer\n')
    fault_proxy.clear_requests()
    result = ppcp(f's3://{bucket}/data/', 'out', '--files-from', manifest,
                  '--no-progress', endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    assert files_under(workdir) == {'out/k'}
    assert (workdir / 'out/k').read_bytes() == b'v2\n'
    [get] = fault_proxy.find_requests(method='GET', key='data/k')
    assert get.params['versionId'] == [second['VersionId']]


@pytest.mark.parametrize('file_format', ['ORC', 'Parquet'])
def test_an_orc_or_parquet_report_is_refused_in_one_line(
        file_format, ppcp, s3_client, bucket, workdir, fault_proxy):
    manifest = inventory_report(s3_client, bucket, [], COLUMNS,
                                workdir.parent, file_format=file_format)
    fault_proxy.clear_requests()
    result = ppcp(f's3://{bucket}/data/', 'out', '--files-from', manifest,
                  endpoint_url=fault_proxy.endpoint_url)
    assert (result.returncode, output_lines(result.stderr)) == (255, [
        f'--files-from {manifest} is an S3 Inventory report in '
        f'{file_format}: only CSV reports can be read.'])
    assert files_under(workdir) == set()
    assert fault_proxy.requests == []


def test_json_that_is_not_a_manifest_is_refused_in_one_line(
        ppcp, bucket, workdir, fault_proxy):
    manifest = workdir.parent / 'manifest.json'
    manifest.write_text('{"files": []}')
    result = ppcp(f's3://{bucket}/data/', 'out', '--files-from', manifest,
                  endpoint_url=fault_proxy.endpoint_url)
    assert (result.returncode, output_lines(result.stderr)) == (255, [
        f'--files-from {manifest} is neither a list of keys nor an S3 '
        'Inventory manifest.json (fileFormat, fileSchema, sourceBucket, '
        'destinationBucket, files).'])
    assert files_under(workdir) == set()
    assert fault_proxy.requests == []


@pytest.mark.timeout(60)
def test_the_list_is_read_as_the_downloads_go(aws_env, s3_server, bucket,
                                              objects, workdir):
    """A list on a pipe, to the installed ``aws``: the first file is
    downloaded while the rest of the list has not been written yet
    (nothing waits for the whole list, so a list longer than memory
    streams through)."""
    import subprocess
    import time

    from tests.s3server import AWS_SCRIPT

    command = subprocess.Popen(
        [AWS_SCRIPT, 's3', 'ppcp', f's3://{bucket}/data/', 'out',
         '--files-from', '-', '--no-progress',
         '--endpoint-url', s3_server.endpoint_url],
        env=aws_env, cwd=workdir, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        command.stdin.write(b'a.txt\n')
        command.stdin.flush()
        deadline = time.monotonic() + 30
        while (not (workdir / 'out/a.txt').exists()
               and time.monotonic() < deadline):
            time.sleep(0.05)
        first_before_the_rest = (workdir / 'out/a.txt').exists()
        command.stdin.write(b'sub/b.txt\n')
        out, err = command.communicate(timeout=30)
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()
    assert first_before_the_rest
    assert command.returncode == 0, err
    assert files_under(workdir) == {'out/a.txt', 'out/sub/b.txt'}


def test_a_key_that_climbs_out_of_the_destination_is_skipped_as_cp_skips_it(
        ppcp, s3_client, bucket, objects, workdir, fault_proxy):
    """A listed key with ``..`` that would land outside the destination is
    the CLI's parent-directory warning, as for a listed object: nothing is
    fetched or written for it."""
    s3_client.put_object(Bucket=bucket, Key='data/../escape', Body=b'no\n')
    keys = write_list(workdir.parent / 'keys.txt', '../escape', 'a.txt')
    result = ppcp(f's3://{bucket}/data/', 'out', '--files-from', keys,
                  '--no-progress', endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 2, result
    assert output_lines(result.stderr) == [
        'warning: Skipping file ../escape. File references a parent '
        'directory.']
    assert files_under(workdir) == {'out/a.txt'}
    assert [r.key_path for r in fault_proxy.requests] == [
        f'/{bucket}/data/a.txt']


def test_a_row_that_does_not_fit_the_schema_fails_alone(
        ppcp, s3_client, bucket, workdir, fault_proxy):
    import gzip

    s3_client.put_object(Bucket=bucket, Key='data/a', Body=b'a\n')
    good = inventory_row(s3_client, bucket, 'data/a')
    manifest = inventory_report(s3_client, bucket, [good], COLUMNS,
                                workdir.parent, files=1)
    csv_key = f'inv/{bucket}/data/0.csv.gz'
    text = s3_client.get_object(Bucket=bucket, Key=csv_key)['Body'].read()
    s3_client.put_object(Bucket=bucket, Key=csv_key, Body=gzip.compress(
        f'"{bucket}","data/b","2"\n'.encode() + gzip.decompress(text)))
    result = ppcp(f's3://{bucket}/data/', 'out', '--files-from', manifest,
                  '--no-progress', endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 1
    assert output_lines(result.stderr) == [
        f'download failed: s3://{bucket}/{csv_key}, row 1 has 3 columns, '
        'its fileSchema 5']
    assert files_under(workdir) == {'out/a'}


def test_the_progress_total_grows_by_an_objects_size_once_it_is_known(
        ppcp, aws_env, s3_client, bucket, workdir, fault_proxy):
    """Until its first GET answers, an object counts in the progress
    line's total by the bytes received (as the CLI counts any transfer of
    unknown size); from then on by its size."""
    aws_env.set_config('s3', {'multipart_threshold': '5MB',
                              'multipart_chunksize': '5MB'})
    s3_client.put_object(Bucket=bucket, Key='d/big',
                         Body=os.urandom(12 * MiB))
    keys = write_list(workdir.parent / 'keys.txt', 'big')
    result = ppcp(f's3://{bucket}/d/', 'out', '--files-from', keys,
                  endpoint_url=fault_proxy.endpoint_url)
    assert result.returncode == 0, result.stderr
    totals = re.findall(r'Completed [\d.]+ \w+/~?([\d.]+ \w+) ',
                        result.stdout)
    assert totals and totals[-1] == '12.0 MiB', result.stdout
