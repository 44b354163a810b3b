"""``aws s3 ppsync`` side by side with the real ``aws s3 sync`` on the same
moto data, each into its own directory: the same result lines (as sets,
with the destination normalised), stderr, exit codes, files (bytes) and
mtimes. The requests go through the fault proxy, which counts the GETs."""
import os
import re

import pytest

from tests.faults.proxy import Rule
from tests.helpers import files_under, output_lines
from tests.s3server import run_aws

OLD = 1_000_000_000      # 2001: older than any LastModified here
FUTURE = 4_000_000_000   # 2096: newer than any LastModified here
S, P = 'dest_sync', 'dest_ppsync'  # where sync and ppsync write
OBJECTS = {
    'a.txt': b'alpha\n',
    'sub/b.txt': b'bravo bravo\n',
    'sub/deep/c.bin': os.urandom(3000),
    'd.tmp': b'temporary\n',
}


@pytest.fixture
def work(tmp_path):
    path = tmp_path / 'work'
    path.mkdir()
    return path


@pytest.fixture
def data(s3_client, bucket):
    for key, body in OBJECTS.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    return bucket


def write(path, content, mtime=OLD):
    """A local file, with a given mtime (the same in both trees)."""
    path.write_bytes(content)
    os.utime(path, (mtime, mtime))


def result_lines(stdout, dest):
    """The result lines without progress, ``dest`` written ``DEST``."""
    return {line.replace(dest, 'DEST') for line in output_lines(stdout)
            if not line.startswith('Completed ')}


def tree(directory):
    """{relative path: (bytes, mtime)} of every file below ``directory``."""
    found = {}
    for name in files_under(directory):
        path = os.path.join(directory, name)
        with open(path, 'rb') as f:
            found[name] = (f.read(), os.stat(path).st_mtime)
    return found


class SideBySide:
    def __init__(self, aws_env, fault_proxy, work, bucket):
        self.aws_env = aws_env
        self.proxy = fault_proxy
        self.work = work
        self.bucket = bucket

    def run(self, command, dest, *args):
        result = run_aws(['s3', command, f's3://{self.bucket}/', dest, *args,
                          '--endpoint-url', self.proxy.endpoint_url],
                         self.aws_env, timeout=60, cwd=self.work)
        assert 'Traceback' not in result.stderr, result.stderr
        return (result.returncode, result_lines(result.stdout, dest),
                result.stderr.replace(dest, 'DEST'))

    def both(self, *args):
        """Run sync into ``S`` and ppsync into ``P``; assert they agree
        (output, exit code, files, mtimes); return ppsync's result and its
        GETs of objects."""
        sync = self.run('sync', S, *args)
        self.proxy.clear_requests()
        ppsync = self.run('ppsync', P, *args)
        gets = [r.key_path for r in self.proxy.find_requests(method='GET')
                if r.key_path.startswith(f'/{self.bucket}/')
                and r.key_path != f'/{self.bucket}/']
        assert ppsync == sync
        assert tree(self.work / P) == tree(self.work / S)
        return ppsync, sorted(gets)

    def in_both(self, action):
        for dest in (S, P):
            action(self.work / dest)


@pytest.fixture
def side_by_side(aws_env, fault_proxy, work, data):
    return SideBySide(aws_env, fault_proxy, work, data)


def downloads(bucket, *keys):
    return {f'download: s3://{bucket}/{key} to DEST/{key}' for key in keys}


def test_first_sync_then_a_second_that_downloads_nothing(
        side_by_side, s3_client, bucket, work):
    (code, lines, err), gets = side_by_side.both()
    assert (code, err) == (0, '')
    assert lines == downloads(bucket, *OBJECTS)
    assert gets == sorted(f'/{bucket}/{key}' for key in OBJECTS)
    for key, body in OBJECTS.items():
        assert (work / P / key).read_bytes() == body
        last_modified = s3_client.head_object(
            Bucket=bucket, Key=key)['LastModified']
        assert os.stat(work / P / key).st_mtime == (
            last_modified.timestamp())
    assert side_by_side.both() == ((0, set(), ''), [])


def test_an_object_changed_remotely(side_by_side, s3_client, bucket, work):
    side_by_side.both()
    s3_client.put_object(Bucket=bucket, Key='sub/b.txt', Body=b'changed')
    (code, lines, err), gets = side_by_side.both()
    assert (code, lines, err) == (0, downloads(bucket, 'sub/b.txt'), '')
    assert gets == [f'/{bucket}/sub/b.txt']
    assert (work / P / 'sub/b.txt').read_bytes() == b'changed'


def test_local_files_removed_resized_or_newer(side_by_side, bucket, work):
    side_by_side.both()

    def change(dest):
        os.remove(dest / 'a.txt')
        write(dest / 'sub/b.txt', b'other size')
        os.utime(dest / 'sub/deep/c.bin', (FUTURE, FUTURE))
        os.utime(dest / 'd.tmp', (OLD, OLD))   # older, same size: kept
    side_by_side.in_both(change)
    (code, lines, err), gets = side_by_side.both()
    assert (code, err) == (0, '')
    assert lines == downloads(bucket, 'a.txt', 'sub/b.txt', 'sub/deep/c.bin')
    assert os.stat(work / P / 'd.tmp').st_mtime == OLD
    assert (work / P / 'sub/b.txt').read_bytes() == OBJECTS['sub/b.txt']


@pytest.mark.parametrize('dryrun', [False, True], ids=['delete', 'dryrun'])
def test_delete(side_by_side, bucket, work, dryrun):
    side_by_side.both()

    def add(dest):
        write(dest / 'extra.txt', b'only here')
        write(dest / 'sub' / 'extra2.txt', b'only here too')
        os.remove(dest / 'a.txt')
    side_by_side.in_both(add)
    args = ['--delete'] + (['--dryrun'] if dryrun else [])
    (code, lines, err), gets = side_by_side.both(*args)
    prefix = '(dryrun) ' if dryrun else ''
    assert (code, err) == (0, '')
    assert lines == {prefix + line for line in (
        downloads(bucket, 'a.txt')
        | {'delete: DEST/extra.txt', 'delete: DEST/sub/extra2.txt'})}
    if dryrun:
        expected = set(OBJECTS) - {'a.txt'} | {'extra.txt', 'sub/extra2.txt'}
    else:
        expected = set(OBJECTS)
    assert files_under(work / P) == expected
    assert gets == ([] if dryrun else [f'/{bucket}/a.txt'])


def test_delete_spares_excluded_files(side_by_side, bucket, work):
    side_by_side.both()
    side_by_side.in_both(lambda dest: write(dest / 'sub' / 'x.txt',
                                            b'excluded'))
    side_by_side.in_both(lambda dest: write(dest / 'y.txt', b'gone'))
    (code, lines, err), _ = side_by_side.both('--delete', '--exclude',
                                              'sub/*')
    assert (code, lines, err) == (0, {'delete: DEST/y.txt'}, '')
    assert (work / P / 'sub' / 'x.txt').read_bytes() == b'excluded'


def test_size_only(side_by_side, bucket, work):
    side_by_side.both()

    def touch(dest):
        os.utime(dest / 'a.txt', (FUTURE, FUTURE))
        (dest / 'sub/b.txt').write_bytes(b'resized')
    side_by_side.in_both(touch)
    (code, lines, err), gets = side_by_side.both('--size-only')
    assert (code, lines, err) == (0, downloads(bucket, 'sub/b.txt'), '')
    assert os.stat(work / P / 'a.txt').st_mtime == FUTURE


def test_exact_timestamps(side_by_side, bucket, work):
    side_by_side.both()
    side_by_side.in_both(lambda dest: os.utime(dest / 'a.txt', (OLD, OLD)))
    # Without it, an older local file of the same size is left alone...
    assert side_by_side.both() == ((0, set(), ''), [])
    # ...with it, it is downloaded again.
    (code, lines, err), gets = side_by_side.both('--exact-timestamps')
    assert (code, lines, err) == (0, downloads(bucket, 'a.txt'), '')
    assert gets == [f'/{bucket}/a.txt']


def test_include_and_exclude(side_by_side, bucket, work):
    (code, lines, err), _ = side_by_side.both(
        '--exclude', '*', '--include', 'sub/*', '--exclude', '*.bin')
    assert (code, lines, err) == (0, downloads(bucket, 'sub/b.txt'), '')
    assert files_under(work / P) == {'sub/b.txt'}


def test_no_overwrite_keeps_existing_files(side_by_side, bucket, work):
    side_by_side.both()

    def change(dest):
        (dest / 'a.txt').write_bytes(b'mine, longer than alpha')
        os.remove(dest / 'sub/b.txt')
    side_by_side.in_both(change)
    # v1's sync has no --no-overwrite: ppsync alone, compared by hand.
    ppsync = side_by_side.run('ppsync', P, '--no-overwrite')
    assert ppsync == (0, downloads(bucket, 'sub/b.txt'), '')
    assert (work / P / 'a.txt').read_bytes() == b'mine, longer than alpha'


@pytest.mark.parametrize('src, dest', [
    ('.', 's3://bucket/prefix/'), ('s3://bucket/a/', 's3://bucket/b/')],
    ids=['upload', 's3-to-s3'])
def test_uploads_and_copies_are_refused(aws_env, work, src, dest):
    result = run_aws(['s3', 'ppsync', src, dest], aws_env, cwd=work)
    assert (result.returncode, result.stdout) == (255, '')
    assert output_lines(result.stderr) == [
        'aws s3 ppsync only downloads: it takes <S3Uri> <LocalPath>. '
        'Use aws s3 sync for uploads and syncs between S3 locations.']


def test_a_stream_is_refused_as_sync_refuses_it(side_by_side):
    assert side_by_side.run('ppsync', '-') == side_by_side.run('sync', '-')
    assert side_by_side.run('sync', '-')[0] == 255


def test_help(aws_env, work):
    result = run_aws(['s3', 'ppsync', 'help'],
                     dict(aws_env, PAGER='cat'), cwd=work)
    assert result.returncode == 0, result.stderr
    text = re.sub('.\b', '', result.stdout)  # groff's overstrike bold
    for arg in ('--delete', '--size-only', '--exact-timestamps',
                '--no-overwrite', '--processes', '--exclude'):
        assert arg in text
    assert 'aws s3 ppsync s3://amzn-s3-demo-bucket/logs/ ./logs' in text


@pytest.mark.parametrize('args', [
    ['--quiet'], ['--only-show-errors'], ['--no-progress'],
    ['--page-size', '1'], ['--follow-symlinks'], ['--no-follow-symlinks'],
    ['--delete', '--quiet']],
    ids=['quiet', 'only-show-errors', 'no-progress', 'page-size-1',
         'follow-symlinks', 'no-follow-symlinks', 'delete-quiet'])
def test_output_and_listing_options(side_by_side, args):
    side_by_side.in_both(lambda dest: dest.mkdir())
    side_by_side.in_both(lambda dest: write(dest / 'extra', b'e'))
    (code, lines, err), gets = side_by_side.both(*args)
    assert (code, err) == (0, '')
    assert len(gets) == len(OBJECTS)
    if '--quiet' in args or '--only-show-errors' in args:
        assert lines == set()
    else:
        assert lines == downloads(side_by_side.bucket, *OBJECTS)


def test_a_missing_bucket_fails_as_sync_fails(side_by_side, work):
    side_by_side.bucket = 'no-such-bucket-for-ppsync'
    sync = side_by_side.run('sync', S)
    assert sync[0] == 1
    assert 'NoSuchBucket' in sync[2]
    assert side_by_side.run('ppsync', S) == sync


def test_a_sync_with_nothing_to_do_starts_no_process(side_by_side):
    side_by_side.both()
    first = side_by_side.run('ppsync', 'again', '--debug')
    assert re.search(r'Started ppcp-\S+ \(pid', first[2])
    second = side_by_side.run('ppsync', 'again', '--debug')
    assert second[0] == 0 and second[1] == set()
    assert 'Started ppcp-' not in second[2]


@pytest.mark.parametrize('args', [
    ['--checksum-mode', 'ENABLED'], ['--request-payer', 'requester']],
    ids=['checksum-mode', 'request-payer'])
def test_request_options(side_by_side, args):
    (code, lines, err), gets = side_by_side.both(*args)
    assert (code, lines, err) == (
        0, downloads(side_by_side.bucket, *OBJECTS), '')


@pytest.mark.parametrize('mode', ['ignore', 'warn', 'skip', 'error'])
def test_case_conflicts(side_by_side, s3_client, bucket, fault_proxy, mode):
    s3_client.put_object(Bucket=bucket, Key='X.txt', Body=b'upper')
    s3_client.put_object(Bucket=bucket, Key='x.txt', Body=b'lower')
    # The conflict is seen only while X.txt (listed first) is still being
    # downloaded when x.txt is compared (neither exists locally on a
    # case-sensitive file system): held a while, in both commands, so the
    # comparison does not race the download.
    fault_proxy.add_rule(Rule(method='GET', key='X.txt', delay_seconds=1))
    (code, lines, err), _ = side_by_side.both('--case-conflict', mode)
    # What sync does (the comparison above): a warning on stderr, exit 0,
    # for warn and skip; a fatal error, exit 1, for error.
    if mode == 'ignore':
        assert (code, err) == (0, '')
    elif mode == 'error':
        assert code == 1 and err.startswith('fatal error: Failed to download')
    else:
        assert code == 0 and err.startswith('warning: ')
        assert 'case' in err


def test_a_key_that_cannot_be_written(side_by_side, bucket, work):
    """A local file where the objects' directory must go: each object below
    it fails with a ``download failed`` line naming it (stderr), the others
    download, the exit status is 1, and the file in the way is left as it
    was. ``aws s3 sync`` names only the object whose write failed, not the
    one whose directory could not be created (its exit status says it);
    ``ppsync`` names both."""
    side_by_side.in_both(lambda dest: (dest.mkdir(),
                                       write(dest / 'sub', b'in the way')))
    sync = side_by_side.run('sync', S)
    ppsync = side_by_side.run('ppsync', P)
    assert sync[:2] == ppsync[:2] == (1, downloads(bucket, 'a.txt', 'd.tmp'))
    sync_failed = sorted(sync[2].splitlines())
    ppsync_failed = sorted(ppsync[2].splitlines())
    assert [line.split(' [Errno')[0] for line in sync_failed] == [
        f'download failed: s3://{bucket}/sub/b.txt to DEST/sub/b.txt']
    assert [line.split(' [Errno')[0] for line in ppsync_failed] == [
        f'download failed: s3://{bucket}/sub/b.txt to DEST/sub/b.txt',
        f'download failed: s3://{bucket}/sub/deep/c.bin to '
        f'DEST/sub/deep/c.bin Could not create directory '
        f'{work / "DEST" / "sub" / "deep"}:']
    assert all('Not a directory' in line for line in ppsync_failed)
    assert tree(work / P) == tree(work / S)
    assert (work / P / 'sub').read_bytes() == b'in the way'
    assert sorted(os.listdir(work / P)) == ['a.txt', 'd.tmp', 'sub']
