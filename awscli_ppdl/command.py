"""``aws s3 ppcp``: ``aws s3 cp`` for downloads, on a process pool.

Only the transfer engine is replaced. The arguments are ``cp``'s own table;
listing, include/exclude filters, case-conflict handling, Glacier and
parent-directory warnings, dry runs, result lines, progress and exit codes are
the CLI's own code (``FileGenerator``, ``create_filter``, ``Comparator``,
``S3TransferHandler`` and its ``DownloadRequestSubmitter``), fed to a
``ProcessPoolDownloader`` that stands in for s3transfer's ``TransferManager``.
"""
import atexit
import contextlib
import datetime
import functools
import gc
import itertools
import logging
import os
import signal
import sys
import threading

from dateutil.tz import tzlocal, tzutc

from botocore.exceptions import ClientError

from awscli.clidriver import LOG_FORMAT
from awscli.customizations.s3 import transferconfig
from awscli.customizations.s3.comparator import Comparator
from awscli.customizations.s3.fileformat import FileFormat
from awscli.customizations.s3.fileinfo import FileInfo
from awscli.customizations.s3.filegenerator import FileGenerator
from awscli.customizations.s3.filters import create_filter
from awscli.customizations.s3.fileinfobuilder import FileInfoBuilder
from awscli.customizations.s3.results import (
    CommandResultRecorder, CtrlCResult, ResultRecorder)
from awscli.customizations.s3.s3handler import S3TransferHandlerFactory
from awscli.customizations.s3.subcommands import (
    CommandParameters, CpCommand, S3TransferCommand)
from awscli.customizations.s3.syncstrategy.caseconflict import (
    CaseConflictSync)
from awscli.customizations.s3.syncstrategy.base import (
    AlwaysSync, NeverSync)
from awscli.customizations.s3.utils import (
    BucketLister, RequestParamsMapper, _date_parser, find_bucket_key,
    find_dest_path_comp_key, human_readable_size, relative_path)

from awscli_ppdl.fileio import TEMP_SUFFIX
from awscli_ppdl.filesfrom import (
    FILES_FROM, FilesFromGenerator, FilesFromS3TransferHandler,
    check_files_from, open_files_from)
from awscli_ppdl.inlineresults import (
    InlineResultProcessor, InlineResultQueue)
from awscli_ppdl.nooverwrite import (
    NO_OVERWRITE, NoOverwriteS3TransferHandler, check_no_overwrite)
from awscli_ppdl.resume import RECORD_SUFFIX

# The engine (``processpool`` and everything it imports, ~20 modules) is
# imported only when ``ppcp`` runs: this module is imported whenever the
# ``s3`` command table is built, for ``aws s3 ls`` as much as for ``ppcp``.

LOGGER = logging.getLogger(__name__)

PROCESSES = {
    'name': 'processes', 'cli_type_name': 'integer',
    'help_text': (
        'The number of worker processes that download in parallel. Defaults '
        'to the number of CPUs this command may run on. The processes share '
        'the GETs in flight, each making its share at once: the '
        '``max_concurrent_requests`` setting of the profile\'s ``s3`` '
        'configuration if it has one, else 32 per CPU this command may run '
        'on, at most 128, of which 16 per CPU, at most 64, may be GETs of '
        'a MiB or more (``aws s3 cp``\'s default of 10 leaves a link with '
        'tens of milliseconds of latency idle, and large GETs gain nothing '
        'from more than that). There are never more '
        'processes than requests: a larger value is lowered to it. Fewer '
        'are started when there are fewer parts to download.'),
}

VERSION_ID = {
    'name': 'version-id',
    'help_text': (
        'Version ID used to reference a specific version of the object, as '
        'with ``aws s3api get-object --version-id``: that version is '
        'downloaded instead of the current one. For a single object only '
        '(not with ``--recursive``).'),
}

NO_RESUME = {
    'name': 'no-resume', 'action': 'store_true',
    'help_text': (
        'Do not resume, and keep nothing to resume. By default an object '
        'fetched in parts (at or above ``multipart_threshold``) is written '
        'to ``<file>.ppcp-tmp`` with a record of the parts written in '
        '``<file>.ppcp-resume``; if the download does not finish (Ctrl-C, '
        'SIGTERM, a lasting network fault, a killed process), both stay, '
        'and running the same command again fetches only the missing '
        'parts. An object that changed since, or a record that cannot be '
        'read, is downloaded again from the start. With ``--no-resume`` an '
        'unfinished download leaves nothing behind, and the files of an '
        'earlier one are not used (``ppsync --delete`` deletes them, as '
        'any local file without an object).'),
}

USAGE = '<S3Uri> <LocalPath>'
NOT_A_DOWNLOAD = (
    'aws s3 ppcp only downloads: it takes <S3Uri> <LocalPath>. '
    'Use aws s3 cp for uploads and copies between S3 locations.')


EXAMPLES = """\
**Example 1: Downloading an object to a local file**

The following ``ppcp`` command downloads one object. Large objects are
fetched as parallel ranged GETs by the worker processes::

    aws s3 ppcp s3://amzn-s3-demo-bucket/big.iso ./big.iso

Output::

    download: s3://amzn-s3-demo-bucket/big.iso to ./big.iso

**Example 2: Downloading every object under a prefix**

The following ``ppcp`` command downloads every object under a prefix,
except those that end in ``.tmp``, spreading them over the workers::

    aws s3 ppcp s3://amzn-s3-demo-bucket/logs/ ./logs --recursive --exclude "*.tmp"

Output::

    download: s3://amzn-s3-demo-bucket/logs/a.log to logs/a.log
    download: s3://amzn-s3-demo-bucket/logs/b.log to logs/b.log

**Example 3: Streaming an object to standard output**

The following ``ppcp`` command writes an object to standard output, in
order, while its ranges are fetched in parallel::

    aws s3 ppcp s3://amzn-s3-demo-bucket/backup.tar - | tar x

**Example 4: Choosing the number of worker processes**

The following ``ppcp`` command shares the GETs in flight (the profile's
``max_concurrent_requests``, or 32 per CPU up to 128 without one) among 4
worker processes, with a named profile::

    aws s3 ppcp s3://amzn-s3-demo-bucket/big.iso . --processes 4 --profile prod

**Example 5: Downloading the objects a list names**

The following ``ppcp`` command downloads the objects that ``keys.txt``
names, one a line, relative to the source prefix or as ``s3://`` URIs
inside it, with no listing and no HeadObject; a TAB (``<TAB>`` below) and a
version ID after a key download that version::

    aws s3 ppcp s3://amzn-s3-demo-bucket/logs/ ./logs --files-from keys.txt

Contents of ``keys.txt``::

    # yesterday's logs
    2025/11/24/a.log
    s3://amzn-s3-demo-bucket/logs/2025/11/24/b.log
    2025/11/24/c.log<TAB>3HL4kqtJlcpXroDTDmjVBH40Nrjfkd

Output::

    download: s3://amzn-s3-demo-bucket/logs/2025/11/24/a.log to logs/2025/11/24/a.log
    download: s3://amzn-s3-demo-bucket/logs/2025/11/24/b.log to logs/2025/11/24/b.log
    download: s3://amzn-s3-demo-bucket/logs/2025/11/24/c.log to logs/2025/11/24/c.log

A list can also come from standard input (``--files-from -``), and
``--files-from`` also takes an S3 Inventory report in CSV, by its
``manifest.json`` (a local path or an ``s3://`` URI), whose sizes plan
every GET::

    aws s3 ppcp s3://amzn-s3-demo-bucket/logs/ ./logs --files-from s3://amzn-s3-demo-inventory/amzn-s3-demo-bucket/daily/2025-11-25T01-00Z/manifest.json

**Example 6: Resuming an interrupted download**

The following ``ppcp`` command is interrupted (Ctrl-C) while it downloads a
large object. The parts already written stay in ``big.iso.ppcp-tmp``, listed
in ``big.iso.ppcp-resume``; the same command, run again, fetches only the
missing parts (with ``If-Match`` on the ETag recorded), or starts over if the
object has changed. Delete both files to discard the partial download::

    aws s3 ppcp s3://amzn-s3-demo-bucket/big.iso ./big.iso
    aws s3 ppcp s3://amzn-s3-demo-bucket/big.iso ./big.iso

Output::

    cancelled: ctrl-c received
    Kept 3.0 GiB of 4.0 GiB of ./big.iso in ./big.iso.ppcp-tmp: run the same command again to resume the download.
    download: s3://amzn-s3-demo-bucket/big.iso to ./big.iso
"""


class PpcpCommand(S3TransferCommand):
    NAME = 'ppcp'
    DESCRIPTION = (
        'Downloads an S3 object, or every object under a prefix with '
        '``--recursive``, to a local path, like ``aws s3 cp`` does, with a '
        'pool of processes instead of threads so that large and many-object '
        'downloads are not limited by the Python GIL. It accepts the '
        'arguments of ``aws s3 cp``; arguments that only apply to uploads '
        'or copies are ignored, or refused, as ``aws s3 cp`` ignores or '
        'refuses them for downloads.')
    USAGE = USAGE
    EXAMPLES = EXAMPLES
    # The CLI command whose path checks and messages this one keeps
    # (``CommandParameters``), and the line that refuses anything but a
    # download.
    CHECKED_AS = CpCommand
    NOT_A_DOWNLOAD = NOT_A_DOWNLOAD
    ARG_TABLE = ([{'name': 'paths', 'nargs': 2, 'positional_arg': True,
                   'synopsis': USAGE}]
                 + [arg for arg in CpCommand.ARG_TABLE
                    if arg['name'] != 'paths']
                 + [VERSION_ID]
                 + [PROCESSES]
                 + [NO_OVERWRITE]
                 + [FILES_FROM]
                 + [NO_RESUME])

    def _run_main(self, parsed_args, parsed_globals):
        # S3Command._run_main: the CLI's client (profile, region, endpoint,
        # TLS), used here for listing and as the model for the children's.
        super(S3TransferCommand, self)._run_main(parsed_args, parsed_globals)
        # When the interpreter exits, its last garbage collections walk the
        # whole CLI heap (~0.2 s, a fifth of a one-file download); frozen
        # objects are skipped. What exit must do does not wait for them:
        # the standard streams are flushed, and logging's and
        # multiprocessing's exit handlers run, either way. (Once, however
        # often the driver runs the command in one process.)
        atexit.unregister(gc.freeze)
        atexit.register(gc.freeze)
        if parsed_globals.debug:
            # As the CLI does for botocore and s3transfer: the engine's own
            # records, and those the children forward, reach stderr.
            self._session.set_stream_logger('awscli_ppdl', logging.DEBUG,
                                            format_string=LOG_FORMAT)
        else:
            # The filter logs one to three DEBUG records per listed object;
            # without --debug the CLI's only awscli handler writes ERROR
            # and above, so they were built only to be dropped.
            logging.getLogger(_FILTER_LOGGER).setLevel(logging.INFO)
        self._convert_path_args(parsed_args)
        _check_is_a_download(parsed_args.paths, self.NOT_A_DOWNLOAD)
        if getattr(parsed_args, 'files_from', None) is not None:
            # A list of keys under a prefix, laid out as --recursive lays
            # out a listing (as rclone's --files-from, which needs no flag).
            parsed_args.dir_op = True
        params = self._build_call_parameters(parsed_args, {})
        check_files_from(params)
        _check_version_id(params)
        if params.get('files_from') is not None:
            # Opened (and refused if it is neither a list nor a report)
            # before anything is made or downloaded.
            params['files_from_source'] = open_files_from(
                params['files_from'], self.client,
                find_bucket_key(params['paths'][0][len('s3://'):])[0],
                _listing_date_parser)
        # aws s3 cp's own checks and messages (streaming only without
        # --recursive, --checksum-algorithm and --sse-c-copy-source refused
        # for a download, --sse-c without its key...), and its normalised
        # paths; a recursive download's destination directory is made here,
        # as cp makes it, dry run or not.
        CommandParameters(self.CHECKED_AS.NAME, params,
                          self.CHECKED_AS.USAGE).add_paths(parsed_args.paths)
        check_no_overwrite(params)
        downloader = self._build_downloader(params, parsed_globals)
        command = self._download_command(params, downloader)
        try:
            with _signals_stop_the_download() as stopped:
                returncode = command.run()
        finally:
            _say_what_was_kept(downloader.kept_partials(),
                               _stderr_lines(params))
        if stopped.signal_number is not None:
            return 128 + stopped.signal_number
        return returncode

    def _download_command(self, params, downloader):
        return DownloadCommand(params, self.client, downloader)

    def _build_downloader(self, params, parsed_globals):
        from awscli_ppdl.clientfactory import ClientFactory
        from awscli_ppdl.processpool import (
            ProcessPoolDownloader, ProcessTransferConfig)

        s3_config = self._session.get_scoped_config().get('s3', {})
        runtime_config = transferconfig.RuntimeConfig().build_config(
            **s3_config)
        cpus = _usable_cpus()
        if 'max_concurrent_requests' in s3_config:
            requests = large_requests = (
                runtime_config['max_concurrent_requests'])
        else:
            requests, large_requests = default_concurrent_requests(cpus)
        processes = params.get('processes')
        if processes is None:
            processes = cpus
        if processes < 1:
            raise ValueError('--processes must be a positive integer, '
                             f'got {processes}.')
        # The config lowers the processes to the requests.
        config = ProcessTransferConfig(
            multipart_threshold=runtime_config['multipart_threshold'],
            multipart_chunksize=runtime_config['multipart_chunksize'],
            max_request_processes=processes,
            max_concurrent_requests=requests,
            max_concurrent_large_requests=large_requests,
            max_queue_size=runtime_config['max_queue_size'],
            check_etag_md5=etag_md5_setting(s3_config),
            # The listing gives every size but --files-from's (and a
            # stream's, which has a HeadObject of its own).
            size_from_first_get=True,
            resume=not params.get('no_resume'),
        )
        LOGGER.debug('%d requests in flight (%d of them large), shared by '
                     'at most %d worker processes',
                     config.max_concurrent_requests,
                     config.max_concurrent_large_requests,
                     config.max_request_processes)
        factory = ClientFactory.from_cli_session(
            self._session, region=self.client.meta.region_name,
            endpoint_url=parsed_globals.endpoint_url,
            verify=parsed_globals.verify_ssl)
        return ProcessPoolDownloader(client_factory=factory, config=config,
                                     credentials=self._session.get_credentials(),
                                     on_notice=_stderr_lines(params))


def _stderr_lines(params):
    """What prints the engine's own lines (a partial download kept or
    started over): stderr, or nothing with ``--quiet``, which silences
    the CLI's result lines too."""
    if params.get('quiet'):
        return lambda line: None
    return _print_to_stderr


def _print_to_stderr(line):
    sys.stderr.write(line + '\n')
    sys.stderr.flush()


def _say_what_was_kept(kept, say):
    """One line, whatever the number of partial downloads kept: how much
    is kept where, and that the same command resumes it."""
    if not kept:
        return
    kept_bytes = human_readable_size(sum(k[2] for k in kept))
    size = human_readable_size(sum(k[3] for k in kept))
    if len(kept) == 1:
        [(filename, temp_filename, _, _)] = kept
        say(f'Kept {kept_bytes} of {size} of {relative_path(filename)} in '
            f'{relative_path(temp_filename)}: run the same command again to '
            'resume the download.')
    else:
        say(f'Kept {kept_bytes} of {size} of {len(kept)} files, each in '
            f'<file>{TEMP_SUFFIX} beside it: run the same command again to '
            'resume the downloads.')


REQUESTS_PER_CPU = 32
MOST_DEFAULT_REQUESTS = 128
LARGE_REQUESTS_PER_CPU = 16
MOST_DEFAULT_LARGE_REQUESTS = 64


def default_concurrent_requests(cpus):
    """The GETs in flight, and how many of them may be large (a MiB or
    more), when the profile sets none.

    Over a link with latency each GET mostly waits, so the requests in
    flight, not the CPUs, set the pace, and cp's 10 leave the link idle.
    Measured on two CPUs (*Requests in flight* in
    benchmarks/where-the-time-goes.md): 64 small GETs fetch 2,000 objects
    of 16 KiB 12 % faster than 32 at 30 ms and a third faster at 80 ms,
    and cost nothing on loopback; large GETs (parts) move bytes for most of
    their time, and 64 of them were no faster than 32 over any link and,
    on another host, slower on loopback.
    The ceilings bound the connections to one endpoint and the threads'
    memory."""
    return (min(REQUESTS_PER_CPU * cpus, MOST_DEFAULT_REQUESTS),
            min(LARGE_REQUESTS_PER_CPU * cpus, MOST_DEFAULT_LARGE_REQUESTS))


# The profile's ``s3`` setting that turns off the MD5 check of objects
# fetched in one GET (``ProcessTransferConfig.check_etag_md5``). The CLI's
# RuntimeConfig passes it through as a string: it is checked here.
ETAG_MD5_SETTING = 'ppcp_check_etag_md5'


def etag_md5_setting(s3_config):
    value = s3_config.get(ETAG_MD5_SETTING, 'true')
    if str(value).strip().lower() in ('true', 'false'):
        return str(value).strip().lower() == 'true'
    raise ValueError(f'{ETAG_MD5_SETTING} in the s3 settings of the profile '
                     f'must be true or false, got {value!r}.')


def _usable_cpus():
    """The CPUs this process may run on (``taskset``, a container's
    cpuset), which may be fewer than the machine has: more worker
    processes than that only take turns."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class DownloadCommand:
    """Wires the CLI's listing and result pipeline to the process pool."""

    def __init__(self, params, client, downloader):
        self._params = params
        self._client = client
        self._downloader = downloader

    def run(self):
        result_queue = InlineResultQueue()
        # Made first: from now on the results the listing puts are handled
        # as they are put (``inlineresults``).
        handler = _TransferHandlerFactory(
            self._handler_params(), self._downloader)(
                self._client, result_queue)
        if self._params['is_stream']:
            fileinfos = [self._stream_fileinfo()]
        else:
            fileinfos = self._list_fileinfos(result_queue)
        if not self._params.get('dryrun'):
            fileinfos = self._start_downloader(fileinfos)
        result = handler.call(fileinfos)
        if result.num_tasks_failed > 0:
            return 1
        if result.num_tasks_warned > 0:
            return 2
        return 0

    def _handler_params(self):
        """The parameters the CLI's transfer handler gets."""
        return self._params

    def _start_downloader(self, fileinfos):
        """Start the children before the CLI's result thread, so that every
        child the parent forks is forked while it has one thread (see
        ``pool``); the fileinfos, unchanged.

        An error of the listing, or a Ctrl-C meanwhile, is raised where cp
        would raise it: in the transfer handler, which reports it
        (``cancelled: ctrl-c received``) and stops the children.
        """
        try:
            return self._start_for(fileinfos)
        except (Exception, KeyboardInterrupt) as error:
            return _raising(error)

    def _start_for(self, fileinfos):
        """Many files or a stream: all the workers, while the listing's
        first page is on its way. One object: as many as its parts, once
        its listing (a HeadObject) has given its size."""
        if self._params['dir_op'] or self._params['is_stream']:
            self._downloader.start(several_workers=True)
            return fileinfos
        return started_at_first(fileinfos, lambda first: (
            self._downloader.start(expected_size=first.size)))

    def _stream_fileinfo(self):
        """What aws s3 cp hands its transfer handler for ``-``: no listing,
        the size comes from a HeadObject when the stream starts."""
        params = self._params
        files = FileFormat().format(params['src'], params['dest'], params)
        dest_path, compare_key = find_dest_path_comp_key(files)
        return FileInfo(src=files['src']['path'], dest=dest_path,
                        compare_key=compare_key, src_type='s3',
                        dest_type='local', operation_name='download',
                        client=self._client, is_stream=True)

    def _list_fileinfos(self, result_queue):
        listed = self._list_objects(result_queue)
        if self._handles_case_conflicts():
            listed = self._compare_for_case_conflicts(listed, result_queue)
        return FileInfoBuilder(self._client, parameters=self._params).call(
            listed)

    def _list_objects(self, result_queue):
        """The source's objects (or those --files-from names), through
        the include/exclude filters."""
        params = self._params
        files = FileFormat().format(params['src'], params['dest'], params)
        if params.get('files_from') is not None:
            generator = FilesFromGenerator(
                self._client, params['files_from_source'], result_queue)
            return create_filter(params).call(generator.call(files))
        request_parameters = {'HeadObject': {}, 'ListObjects': {},
                              'ListObjectsV2': {}}
        RequestParamsMapper.map_head_object_params(
            request_parameters['HeadObject'], params)
        # The size and ETag (the ranged GETs' IfMatch) of that version.
        request_parameters['HeadObject'].update(_version_args(params))
        RequestParamsMapper.map_list_objects_v2_params(
            request_parameters['ListObjectsV2'], params)
        generator = _DownloadFileGenerator(
            self._client, 'download', page_size=params['page_size'],
            result_queue=result_queue, request_parameters=request_parameters)
        return create_filter(params).call(generator.call(files))

    def _handles_case_conflicts(self):
        return (self._params.get('dir_op')
                and self._params['case_conflict'] != 'ignore')

    def _compare_for_case_conflicts(self, listed, result_queue):
        """The CLI's recursive-download case-conflict check (sync-style)."""
        comparator = Comparator(
            file_at_src_and_dest_sync_strategy=AlwaysSync(),
            file_not_at_dest_sync_strategy=CaseConflictSync(
                on_case_conflict=self._params['case_conflict']),
            file_not_at_src_sync_strategy=NeverSync(),
        )
        return comparator.call(listed, self._list_local_files(result_queue))

    def _list_local_files(self, result_queue):
        """The destination's files, through the same filters (as the
        CLI's sync lists them, and cp for its case-conflict check)."""
        params = self._params
        local_files = FileFormat().format(params['dest'], params['src'],
                                          params)
        # As cp's: with --no-follow-symlinks, local symlinks are not listed
        # (so a dangling one is no warning, and one at a destination counts
        # as a file that differs only by case).
        local_generator = FileGenerator(
            self._client, '', follow_symlinks=params['follow_symlinks'],
            page_size=params['page_size'], result_queue=result_queue)
        listed = create_filter(params).call(local_generator.call(local_files))
        if params.get('no_resume'):
            return listed
        return (fileinfo for fileinfo in listed
                if not fileinfo.src.endswith(PPCP_SUFFIXES))


# The files a download keeps beside its destination (temp files, resume
# records): a download in flight or to be resumed, never a local file that
# a sync compares, deletes with --delete, or a case conflict. (With
# --no-resume they are listed as before.)
PPCP_SUFFIXES = (TEMP_SUFFIX, RECORD_SUFFIX)


_FILTER_LOGGER = 'awscli.customizations.s3.filters'
_UTC = tzutc()
# YYYY-MM-DDTHH:MM:SSZ, with no fraction, milliseconds or microseconds.
_ISO_LENGTHS = (20, 24, 27)


@functools.lru_cache(maxsize=4096)
def _listing_date_parser(date_string):
    """The CLI's ``_date_parser`` (dateutil ``parse``, then ``tzlocal``), with
    S3's ``2025-11-25T10:22:31.000Z`` (and ``...:31Z``, ``...:31.000000Z``
    of other servers) read by ``fromisoformat``: the same
    datetime (tzutc, then the same ``astimezone(tzlocal())``), without the
    ~0.1 ms dateutil's generic parser takes per object. Any other form goes
    to the CLI's parser. Objects written together share their timestamp (a
    datetime is immutable), so each distinct one is converted once."""
    if (len(date_string) in _ISO_LENGTHS and date_string[-1] == 'Z'
            and date_string[10] == 'T'):
        try:
            parsed = datetime.datetime.fromisoformat(date_string[:-1])
        except ValueError:
            return _date_parser(date_string)
        return parsed.replace(tzinfo=_UTC).astimezone(tzlocal())
    return _date_parser(date_string)


class _DownloadFileGenerator(FileGenerator):
    """The CLI's FileGenerator, telling a missing bucket from a missing key.

    For a single object the CLI makes a HeadObject, whose 404 carries no body,
    and reports 'Key "k" does not exist' even when the bucket is missing.
    """

    def list_objects(self, s3_path, dir_op):
        """The CLI's ``FileGenerator.list_objects`` for a download (no
        ``delete`` case), with the listing's timestamps read by
        ``_listing_date_parser``."""
        bucket, prefix = find_bucket_key(s3_path)
        if not dir_op and prefix:
            yield self._list_single_object(s3_path)
            return
        lister = BucketLister(self._client, date_parser=_listing_date_parser)
        extra_args = self.request_parameters.get('ListObjectsV2', {})
        for source_path, response_data in lister.list_objects(
                bucket=bucket, prefix=prefix, page_size=self.page_size,
                extra_args=extra_args):
            if response_data['Size'] == 0 and source_path.endswith('/'):
                continue
            if not dir_op and s3_path != source_path:
                continue
            yield source_path, response_data

    def _list_single_object(self, s3_path):
        try:
            return super()._list_single_object(s3_path)
        except ClientError as error:
            if (error.response['Error'].get('Code') != '404'
                    or not self._bucket_is_missing(s3_path)):
                raise self._naming_the_version(s3_path, error) from None
            raise ClientError({
                'Error': {'Code': 'NoSuchBucket',
                          'Message': 'The specified bucket does not exist'},
                'ResponseMetadata': error.response.get('ResponseMetadata'),
            }, 'HeadObject') from None

    def _naming_the_version(self, s3_path, error):
        """With ``--version-id``, a HeadObject's 404 (no such version, or
        no such key: the CLI's 'Key "k" does not exist' is wrong of a key
        that exists) or 405 (S3's answer for a delete marker, with
        ``x-amz-delete-marker: true``) in words that name the version;
        ``error`` itself for any other error, or without a version."""
        version_id = self.request_parameters.get('HeadObject', {}).get(
            'VersionId')
        code = error.response['Error'].get('Code')
        headers = error.response.get('ResponseMetadata', {}).get(
            'HTTPHeaders', {})
        _, key = find_bucket_key(s3_path)
        if version_id is None:
            return error
        if code == '404':
            message = f'Version "{version_id}" of key "{key}" does not exist'
        elif code == '405' and headers.get('x-amz-delete-marker') == 'true':
            message = (f'Version "{version_id}" of key "{key}" is a delete '
                       'marker')
        else:
            return error
        return ClientError({
            'Error': dict(error.response['Error'], Message=message),
            'ResponseMetadata': error.response.get('ResponseMetadata'),
        }, 'HeadObject')

    def _bucket_is_missing(self, s3_path):
        bucket, _ = find_bucket_key(s3_path)
        try:
            self._client.head_bucket(Bucket=bucket)
        except ClientError as error:
            return error.response['Error'].get('Code') in ('404',
                                                           'NoSuchBucket')
        return False


class _CommandResultRecorder(CommandResultRecorder):
    """A Ctrl-C that ends the command is reported as one, whenever it came.

    The CLI's recorder turns any exception out of the transfer manager into
    an ``ErrorResult``, which prints ``fatal error: `` and the exception's
    text, empty for a ``KeyboardInterrupt``. ``aws s3 cp`` prints
    ``cancelled: ctrl-c received`` only because a cancelled future usually
    reports first; a Ctrl-C while the last downloads are being finished
    (none left to cancel) printed the bare line instead.
    """

    def __exit__(self, exc_type, exc_value, *args):
        from awscli_ppdl.exceptions import Terminated

        if (exc_type is not None and issubclass(exc_type, KeyboardInterrupt)
                and not issubclass(exc_type, Terminated)):
            self.result_queue.put(CtrlCResult(exception=exc_value))
            self.shutdown()
            return True
        return super().__exit__(exc_type, exc_value, *args)


class _TransferHandlerFactory(S3TransferHandlerFactory):
    """``S3TransferHandlerFactory`` with the process pool as its manager."""

    def __init__(self, cli_params, downloader):
        super().__init__(cli_params, runtime_config=None)
        self._downloader = downloader

    def __call__(self, client, result_queue):
        result_recorder = ResultRecorder()
        handlers = [result_recorder]
        self._add_result_printer(result_recorder, handlers)
        command_result_recorder = _CommandResultRecorder(
            result_queue, result_recorder,
            InlineResultProcessor(result_queue, handlers))
        downloader = self._downloader
        if _version_args(self._cli_params):
            downloader = _OneVersion(downloader, self._cli_params)
        handler = (FilesFromS3TransferHandler
                   if self._cli_params.get('files_from') is not None
                   else NoOverwriteS3TransferHandler)
        return handler(downloader, self._cli_params, command_result_recorder)


class _OneVersion:
    """The downloader as the CLI's transfer handler drives it, with
    ``--version-id`` in each download's ``extra_args`` (the CLI's
    ``RequestParamsMapper`` knows no version): the engine sends it with
    every GET, ranged ones with ``IfMatch`` of that version's ETag, and
    with a stream's HeadObject."""

    def __init__(self, downloader, cli_params):
        self._downloader = downloader
        self._version_args = _version_args(cli_params)

    def download(self, bucket, key, fileobj, extra_args=None,
                 subscribers=None):
        return self._downloader.download(
            bucket, key, fileobj, dict(extra_args or {}, **self._version_args),
            subscribers)

    def __enter__(self):
        self._downloader.__enter__()
        return self

    def __exit__(self, *exc_info):
        return self._downloader.__exit__(*exc_info)

    def __getattr__(self, name):
        return getattr(self._downloader, name)


def _version_args(params):
    """``{'VersionId': ...}`` with ``--version-id``, else ``{}``."""
    version_id = params.get('version_id')
    return {} if version_id is None else {'VersionId': version_id}


def _check_version_id(params):
    """A version is of one object: refused with ``--recursive`` or
    without a key (where cp would silently download nothing), as cp's
    usage errors (exit 255), and an empty one (S3 refuses it)."""
    version_id = params.get('version_id')
    if version_id is None:
        return
    if params.get('dir_op'):
        raise ValueError('--version-id downloads one version of one object: '
                         'it cannot be used with --recursive.')
    if not find_bucket_key(params['paths'][0][len('s3://'):])[1]:
        raise ValueError('--version-id downloads one version of one object: '
                         'it needs the object\'s key (s3://bucket/key).')
    if not version_id:
        raise ValueError('--version-id must not be empty.')


def started_at_first(fileinfos, start):
    """The fileinfos, once the first has been listed and ``start(first)``
    called (none listed: no start at all)."""
    fileinfos = iter(fileinfos)
    first = next(fileinfos, None)
    if first is None:
        return iter(())
    start(first)
    return itertools.chain([first], fileinfos)


def _raising(error):
    """Fileinfos whose listing failed: the error, once iterated."""
    raise error
    yield  # (which makes this a generator: it raises when iterated)


def _check_is_a_download(paths, message=NOT_A_DOWNLOAD):
    """Refuse an upload or a copy in our words, before cp's checks (which
    would accept them). A bucket name is left to botocore's parameter
    validation, which ``aws s3 cp`` reports with exit code 1."""
    src, dest = paths
    if not src.startswith('s3://') or dest.startswith('s3://'):
        raise ValueError(message)


# Signals that end a download as Ctrl-C does, but report it as ended by
# that signal (exit code 128 + its number, as a shell reports a process it
# killed): SIGTERM (kill, systemd, CI timeouts) and SIGHUP (the terminal or
# SSH session closed).
STOPPING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class _StopState:
    signal_number = None


@contextlib.contextmanager
def _signals_stop_the_download():
    """Turn SIGTERM and SIGHUP into the Ctrl-C path: cancel, stop children,
    clean up.

    Only the first such signal interrupts; later ones are ignored so that
    the clean-up itself runs to the end.
    """
    from awscli_ppdl.exceptions import Terminated

    state = _StopState()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def on_signal(signum, frame):
        for number in STOPPING_SIGNALS:
            signal.signal(number, signal.SIG_IGN)
        state.signal_number = signum
        raise Terminated(f'terminated by {signal.Signals(signum).name}')

    # A signal ignored on entry stays ignored: under ``nohup`` a hangup must
    # not stop the download (aws s3 cp leaves SIGHUP alone).
    previous = {number: signal.signal(number, on_signal)
                for number in STOPPING_SIGNALS
                if signal.getsignal(number) is not signal.SIG_IGN}
    try:
        yield state
    except Terminated:
        pass
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)

