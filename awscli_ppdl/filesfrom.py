"""``aws s3 ppcp --files-from``: download exactly the objects a list names.

The list replaces the listing and nothing else: the keys it names go through
the CLI's own machinery as listed objects would (``FileGenerator``'s path
layout, the include/exclude filters, ``FileInfoBuilder``, the download
submitter's warnings, dry runs and result lines), with no ListObjects and
no HeadObject: their sizes are unknown, and each object's first GET tells
its size (``sizing``). The list is read a line at a time, as the CLI's
generators pull files, so memory does not grow with its length.

A list is text, one object a line: a key relative to the source prefix, or
the object's ``s3://`` URI inside the source bucket and prefix, optionally
followed by a TAB and a version ID (``KeyList``). Blank lines and lines
starting with ``#`` are skipped. A line that names nothing downloadable is
reported with its line number as a failed download (``download failed:
...``, exit 1), and the rest goes on; a file that is not a list at all is
refused before anything is downloaded (exit 255). An S3 Inventory report
(``InventoryReport``) stands for a listing more fully: its rows give each
object's size, date and ETag, as ListObjects would.
"""
import csv
import datetime
import gzip
import io
import json
import sys
import urllib.parse

from botocore.exceptions import ClientError

from awscli.customizations.s3.filegenerator import FileGenerator
from awscli.customizations.s3.results import FailureResult, QueuedResult
from awscli.customizations.s3.utils import (
    ProvideLastModifiedTimeSubscriber, find_bucket_key)

from awscli_ppdl.nooverwrite import (
    NoOverwriteDownloadRequestSubmitter, NoOverwriteS3TransferHandler)

FILES_FROM = {
    'name': 'files-from',
    'help_text': (
        'Download exactly the objects named in this file (``-``: standard '
        'input), instead of listing the source: no ListObjects and no '
        'HeadObject request is made, and each object\'s first GET tells '
        'its size (with ``--checksum-mode ENABLED`` a HeadObject still '
        'gives each object\'s checksum). It implies ``--recursive``: the source is a bucket or a '
        'prefix, the destination a directory, and each object is written '
        'where ``--recursive`` would write it. The file has one object a '
        'line, as a key relative to the source prefix (``logs/a.log`` for '
        '``s3://bucket/data/logs/a.log`` when the source is '
        '``s3://bucket/data/``), or as its ``s3://`` URI inside the source '
        'bucket and prefix; a TAB and a version ID after it download that '
        'version (``key<TAB>versionId``). The file is read as UTF-8, a line '
        'at a time; blank lines and lines starting with ``#`` are skipped '
        '(name a key starting with ``#`` by its URI, and a first key '
        'starting with ``{`` too: a file that does is read as an inventory '
        'manifest, below), a line ends at its '
        'newline (a CR before it is dropped), and no other character is '
        'stripped. ``--include`` and ``--exclude`` apply to the listed '
        'keys as to listed objects. A missing key or version, and a line '
        'outside the source, not UTF-8 or naming a prefix, fails with a '
        '``download failed:`` line naming it (and its line number) while '
        'the rest is downloaded, and the command exits with 1. Not with '
        '``--version-id`` (the list names versions) nor ``--case-conflict`` '
        '(which needs the source listed in order). ``FILE`` may also be an '
        'S3 Inventory report in CSV, by its ``manifest.json`` (a local path '
        'or an ``s3://`` URI): the CSV files it names are read from S3 one '
        'after the other, and their sizes, dates and ETags stand for the '
        'listing\'s, so not even a first GET sizes an object. Its rows under '
        'the source prefix are downloaded; with a ``VersionId`` column, the '
        'version each key had as the latest when the report was made '
        '(older versions and delete markers are skipped). ORC and Parquet '
        'reports are refused.'),
}

NOT_A_LIST = ('--files-from {name} is not a list of keys: {reason}. A list '
              'is UTF-8 text, one key or s3:// URI a line.')
NOT_A_MANIFEST = ('--files-from {name} is neither a list of keys nor an S3 '
                  'Inventory manifest.json (fileFormat, fileSchema, '
                  'sourceBucket, destinationBucket, files).')
# Enough of a list to tell text from a binary file (an archive, a
# compressed list, an image) before anything is downloaded.
SNIFF_BYTES = 64 * 1024
# The most of a manifest.json read: a report's manifest names its files in
# a few hundred bytes each.
MANIFEST_BYTES = 64 * 1024 * 1024


def check_files_from(params):
    """What ``--files-from`` cannot go with, refused as cp refuses its bad
    parameters (exit 255). It implies ``--recursive`` (``dir_op``)."""
    if params.get('files_from') is None:
        return
    if params.get('version_id') is not None:
        raise ValueError(
            '--version-id cannot be used with --files-from: give each '
            'object\'s version in the list (key<TAB>versionId).')
    if params.get('case_conflict', 'ignore') != 'ignore':
        raise ValueError(
            '--case-conflict cannot be used with --files-from: it compares '
            'the source listed in order with the destination.')
    if not params['files_from']:
        raise ValueError('--files-from must name a file, or - for standard '
                         'input.')
    if params['paths'][1] == '-':
        raise ValueError('--files-from downloads to a directory: it cannot '
                         'write to standard output (-).')


def open_files_from(name, client, source_bucket, date_parser):
    """What ``--files-from`` names, checked before anything is made or
    downloaded: a ``KeyList``, or an ``InventoryReport`` for an S3
    Inventory manifest (a local ``manifest.json`` or its ``s3://`` URI).
    One clear error (exit 255) for a file that cannot be read, is not
    text, or is a report this cannot read."""
    if name.startswith('s3://'):
        return InventoryReport.from_s3(name, client, source_bucket,
                                       date_parser)
    if name == '-':
        fileobj = sys.stdin.buffer
    else:
        try:
            fileobj = open(name, 'rb')
        except OSError as e:
            raise ValueError(f'--files-from {name}: '
                             f'{e.strerror or e}.') from None
    try:
        head = fileobj.peek(SNIFF_BYTES)[:SNIFF_BYTES]
        if head.lstrip().startswith(b'{'):
            # A manifest.json starts with a JSON object, and a list whose
            # first key starts with '{' names it by its URI (documented):
            # a manifest is small, and read whole.
            with fileobj:
                manifest = fileobj.read(MANIFEST_BYTES)
            return InventoryReport.from_manifest(name, manifest, client,
                                                 source_bucket, date_parser)
    except OSError as e:
        fileobj.close()
        raise ValueError(f'--files-from {name}: {e.strerror or e}.') from None
    if b'\0' in head:
        fileobj.close()
        raise ValueError(NOT_A_LIST.format(
            name=name, reason='it holds binary data'))
    return KeyList(name, fileobj)


class _LineError(Exception):
    """A line of the list that names nothing to download: ``(src,
    message)`` of its failed-download line."""


class KeyList:
    """A list of keys, read a line at a time as the downloads go."""

    def __init__(self, name, fileobj):
        self._name = 'stdin' if name == '-' else name
        self._fileobj = fileobj

    def objects(self, bucket, prefix, fail):
        """``(key, response data)`` of each object the list names under
        ``bucket/prefix``; ``fail(src, message)`` for each bad line."""
        try:
            for number, raw in enumerate(self._fileobj, 1):
                try:
                    named = self._parse(raw, bucket, prefix, number)
                except _LineError as error:
                    fail(*error.args)
                    continue
                if named is not None:
                    key, version_id = named
                    yield key, {'Size': None, 'LastModified': None,
                                'VersionId': version_id}
        finally:
            if self._fileobj is not sys.stdin.buffer:
                self._fileobj.close()

    def _parse(self, raw, bucket, prefix, number):
        """``(key, version ID or None)`` of a line, None for a line to
        skip."""
        where = f'({self._name}, line {number})'
        raw = raw.rstrip(b'\n')
        if raw.endswith(b'\r'):
            raw = raw[:-1]
        try:
            line = raw.decode('utf-8')
        except UnicodeDecodeError:
            raise _LineError(f'{self._name}, line {number}',
                             'is not valid UTF-8') from None
        if not line or line.startswith('#'):
            return None
        name, *columns = line.split('\t')
        if name.startswith('s3://'):
            uri = name
            in_bucket, key = find_bucket_key(name[len('s3://'):])
            if in_bucket != bucket or not key.startswith(prefix):
                raise _LineError(uri, f'{where} is not under '
                                      f's3://{bucket}/{prefix}')
        else:
            key = prefix + name
            uri = f's3://{bucket}/{key}'
        if len(columns) > 1:
            raise _LineError(uri, f'{where} has {len(columns) + 1} columns: '
                                  'a line is a key, or key<TAB>versionId')
        if not key[len(prefix):] or key.endswith('/'):
            raise _LineError(uri, f'{where} names a prefix, not an object')
        version_id = columns[0] if columns else None
        if version_id == '':
            raise _LineError(uri, f'{where} has an empty version ID')
        return key, version_id


class InventoryReport:
    """An S3 Inventory report in CSV, as AWS writes it: ``manifest.json``
    names gzipped CSV files in the destination bucket, with no header row
    and URL-encoded keys, in the columns of its ``fileSchema``. They are
    read from S3 one after the other, a row at a time; each row's Size,
    LastModifiedDate and ETag stand for the listing's (so an object's parts
    are planned with no request), and its VersionId, when the schema has
    one, is the version downloaded. A report of versions lists every
    version: only the latest of each key (``IsLatest``) is downloaded,
    delete markers not at all. Rows outside the source prefix are the rest
    of the bucket's inventory, skipped without a word.
    """

    def __init__(self, name, files, columns, client, date_parser):
        self._name = name
        self._files = files  # [(bucket, key)] of the CSV files
        self._columns = columns
        self._client = client
        self._date_parser = date_parser

    @classmethod
    def from_s3(cls, uri, client, source_bucket, date_parser):
        bucket, key = find_bucket_key(uri[len('s3://'):])
        try:
            body = client.get_object(Bucket=bucket, Key=key)['Body']
            manifest = body.read(MANIFEST_BYTES)
        except ClientError as e:
            raise ValueError(f'--files-from {uri}: {e}') from None
        return cls.from_manifest(uri, manifest, client, source_bucket,
                                 date_parser)

    @classmethod
    def from_manifest(cls, name, manifest, client, source_bucket,
                      date_parser):
        try:
            manifest = json.loads(manifest)
            file_format = manifest['fileFormat']
            columns = [column.strip()
                       for column in manifest['fileSchema'].split(',')]
            report_bucket = manifest['destinationBucket'].rsplit(':', 1)[-1]
            files = [(report_bucket, entry['key'])
                     for entry in manifest['files']]
            inventoried = manifest['sourceBucket']
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ValueError(NOT_A_MANIFEST.format(name=name)) from None
        if file_format != 'CSV':
            raise ValueError(
                f'--files-from {name} is an S3 Inventory report in '
                f'{file_format}: only CSV reports can be read.')
        if 'Key' not in columns:
            raise ValueError(f'--files-from {name}: its fileSchema has no '
                             'Key column.')
        if inventoried != source_bucket:
            raise ValueError(
                f'--files-from {name} is the inventory of bucket '
                f'{inventoried}, not of {source_bucket}.')
        return cls(name, files, columns, client, date_parser)

    def objects(self, bucket, prefix, fail):
        """``(key, response data)`` of each row to download;
        ``fail(src, message)`` for a row that does not fit the schema."""
        for report_bucket, key in self._files:
            for row in self._rows(report_bucket, key, fail):
                named = self._object(row, bucket, prefix)
                if named is not None:
                    yield named

    def _rows(self, report_bucket, key, fail):
        """The rows of one CSV file, as dicts, read as they arrive."""
        body = self._client.get_object(Bucket=report_bucket, Key=key)['Body']
        with io.TextIOWrapper(gzip.GzipFile(fileobj=body), encoding='utf-8',
                              newline='') as text:
            for number, row in enumerate(csv.reader(text), 1):
                if len(row) != len(self._columns):
                    fail(f's3://{report_bucket}/{key}, row {number}',
                         f'has {len(row)} columns, its fileSchema '
                         f'{len(self._columns)}')
                    continue
                yield dict(zip(self._columns, row))

    def _object(self, row, bucket, prefix):
        """``(key, response data)`` of a row to download, or None."""
        key = urllib.parse.unquote_plus(row['Key'])
        if (row.get('Bucket', bucket) != bucket
                or not key.startswith(prefix) or key.endswith('/')
                or row.get('IsDeleteMarker') == 'true'
                or row.get('IsLatest') == 'false'):
            return None
        data = {'Size': None, 'LastModified': None,
                'VersionId': row.get('VersionId') or None}
        if row.get('Size'):
            data['Size'] = int(row['Size'])
        if row.get('LastModifiedDate'):
            data['LastModified'] = self._date_parser(row['LastModifiedDate'])
        if row.get('ETag'):
            data['ETag'] = f'"{row["ETag"].strip(chr(34))}"'
        return key, data


class FilesFromGenerator(FileGenerator):
    """The CLI's ``FileGenerator`` with a list or an inventory report in
    place of the listing.

    It yields each named object as the listing yields one, (``bucket/key``,
    response data), with what the list knows of it (from a key list,
    nothing: no size, date or ETag); a version ID rides in the response
    data to the download submitter. A bad line becomes a queued and failed
    download on the result queue, which the CLI prints and counts as it
    does any failed download.
    """

    def __init__(self, client, source, result_queue):
        super().__init__(client, 'download', result_queue=result_queue)
        self._source = source

    def list_objects(self, s3_path, dir_op):
        bucket, prefix = find_bucket_key(s3_path)
        for key, data in self._source.objects(bucket, prefix, self._fail):
            yield f'{bucket}/{key}', data

    def _fail(self, src, message):
        self.result_queue.put(QueuedResult(
            transfer_type='download', src=src, dest=None,
            total_transfer_size=None))
        self.result_queue.put(FailureResult(
            transfer_type='download', src=src, dest=None,
            exception=_LineError(message)))


class _LastModifiedOfGetSubscriber(ProvideLastModifiedTimeSubscriber):
    """cp's mtime for a download (the object's Last-Modified), from the
    object's first GET (the future's meta) rather than a listing."""

    def __init__(self, result_queue):
        super().__init__(None, result_queue)

    def _on_success(self, future, **kwargs):
        seconds = future.meta.last_modified
        if seconds is not None:
            self._last_modified_time = datetime.datetime.fromtimestamp(
                seconds)
        super()._on_success(future, **kwargs)


class FilesFromDownloadRequestSubmitter(NoOverwriteDownloadRequestSubmitter):
    """The download submitter for listed keys: a line's version ID goes in
    the download's arguments, and the file's mtime comes from its GET."""

    def _add_additional_subscribers(self, subscribers, fileinfo):
        super()._add_additional_subscribers(subscribers, fileinfo)
        if fileinfo.last_update is not None:
            return  # (an inventory report's row)
        subscribers[:] = [
            _LastModifiedOfGetSubscriber(self._result_queue)
            if type(subscriber) is ProvideLastModifiedTimeSubscriber
            else subscriber for subscriber in subscribers]

    def _submit_transfer_request(self, fileinfo, extra_args, subscribers):
        version_id = fileinfo.associated_response_data.get('VersionId')
        if version_id is not None:
            extra_args = dict(extra_args, VersionId=version_id)
        return super()._submit_transfer_request(fileinfo, extra_args,
                                                subscribers)


class FilesFromS3TransferHandler(NoOverwriteS3TransferHandler):
    DOWNLOAD_SUBMITTER = FilesFromDownloadRequestSubmitter
