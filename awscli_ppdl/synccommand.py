"""``aws s3 ppsync``: ``aws s3 sync`` for downloads, on the process pool.

The arguments are ``sync``'s own table plus the arguments its sync
strategies add (``--size-only``, ``--exact-timestamps``, ``--delete``), and
the comparison is the CLI's: both listings through the same filters, the
``Comparator`` with the strategies ``CommandArchitecture`` would choose,
then ``ppcp``'s wiring (the CLI's ``S3TransferHandler``, whose
``LocalDeleteRequestSubmitter`` deletes local files for ``--delete``).
"""

from awscli.customizations.s3.comparator import Comparator
from awscli.customizations.s3.fileinfobuilder import FileInfoBuilder
from awscli.customizations.s3.subcommands import SyncCommand
from awscli.customizations.s3.syncstrategy.base import (
    MissingFileSync, NeverSync, SizeAndLastModifiedSync)
from awscli.customizations.s3.syncstrategy.caseconflict import (
    CaseConflictSync)
from awscli.customizations.s3.syncstrategy.delete import DeleteSync
from awscli.customizations.s3.syncstrategy.exacttimestamps import (
    ExactTimestampsSync)
from awscli.customizations.s3.syncstrategy.sizeonly import SizeOnlySync

from awscli_ppdl.command import (
    NO_RESUME, PROCESSES, USAGE, DownloadCommand, PpcpCommand,
    started_at_first)
from awscli_ppdl.nooverwrite import NO_OVERWRITE, NoOverwriteSync

NOT_A_DOWNLOAD = (
    'aws s3 ppsync only downloads: it takes <S3Uri> <LocalPath>. '
    'Use aws s3 sync for uploads and syncs between S3 locations.')


def _optional_strategies():
    """The strategies the CLI registers for ``sync``
    (``syncstrategy/register.py``), in its order, and v2's no-overwrite
    one last: a later one chosen for the same kind of file wins."""
    return [SizeOnlySync(), ExactTimestampsSync(),
            DeleteSync('file_not_at_src'), NoOverwriteSync()]


def choose_sync_strategies(params):
    """``CommandArchitecture.choose_sync_strategies`` for a download: the
    defaults, overridden by each strategy whose argument is set (what the
    ``choosing-s3-sync-strategy`` event does for ``sync``, whose
    strategies are registered only when ``sync``'s table is built)."""
    if params['case_conflict'] != 'ignore':
        not_at_dest = CaseConflictSync(
            on_case_conflict=params['case_conflict'])
    else:
        not_at_dest = MissingFileSync()
    strategies = {
        'file_at_src_and_dest_sync_strategy': SizeAndLastModifiedSync(),
        'file_not_at_dest_sync_strategy': not_at_dest,
        'file_not_at_src_sync_strategy': NeverSync(),
    }
    for strategy in _optional_strategies():
        if strategy.use_sync_strategy(params) is not None:
            strategies[strategy.sync_type + '_sync_strategy'] = strategy
    return strategies


EXAMPLES = """\
**Example 1: Syncing a prefix to a local directory**

The following ``ppsync`` command downloads the objects under a prefix that
are missing locally, or whose size or last-modified time differ from the
local file's, as ``aws s3 sync`` does::

    aws s3 ppsync s3://amzn-s3-demo-bucket/logs/ ./logs

Output::

    download: s3://amzn-s3-demo-bucket/logs/a.log to logs/a.log

**Example 2: Deleting local files that are not in the bucket**

With ``--delete``, local files with no object under the prefix are
deleted (files excluded by the filters are kept)::

    aws s3 ppsync s3://amzn-s3-demo-bucket/logs/ ./logs --delete --exclude "*.tmp"

Output::

    download: s3://amzn-s3-demo-bucket/logs/b.log to logs/b.log
    delete: logs/old.log

**Example 3: Resuming an interrupted sync**

A sync interrupted (Ctrl-C) while it downloads large objects keeps the
parts already written of each (``<file>.ppcp-tmp``, listed in
``<file>.ppcp-resume``); the same sync, run again, fetches only their
missing parts, or starts over for an object that has changed. The two
files are never local files to the sync (``--delete`` leaves them)::

    aws s3 ppsync s3://amzn-s3-demo-bucket/datasets/ ./datasets
    aws s3 ppsync s3://amzn-s3-demo-bucket/datasets/ ./datasets

Output::

    cancelled: ctrl-c received
    Kept 1.5 GiB of 4.0 GiB of 2 files, each in <file>.ppcp-tmp beside it: run the same command again to resume the downloads.
    download: s3://amzn-s3-demo-bucket/datasets/a.bin to datasets/a.bin
    download: s3://amzn-s3-demo-bucket/datasets/b.bin to datasets/b.bin
"""


def _sync_argument_table():
    """``sync``'s arguments, then those its strategies add, then ours."""
    strategy_args = [strategy.ARGUMENT for strategy in _optional_strategies()
                     if strategy.ARGUMENT is not NO_OVERWRITE]
    return ([{'name': 'paths', 'nargs': 2, 'positional_arg': True,
              'synopsis': USAGE}]
            + [arg for arg in SyncCommand.ARG_TABLE if arg['name'] != 'paths']
            + strategy_args
            + [PROCESSES, NO_OVERWRITE, NO_RESUME])


class PpsyncCommand(PpcpCommand):
    NAME = 'ppsync'
    DESCRIPTION = (
        'Syncs an S3 prefix to a local directory, like ``aws s3 sync`` '
        'does for downloads: it recursively downloads the objects that are '
        'new or updated (a different size, or a last-modified time newer '
        'than the local file\'s, unless ``--size-only`` or '
        '``--exact-timestamps`` says otherwise) and, with ``--delete``, '
        'deletes local files that have no object. The downloads run on a '
        'pool of processes instead of threads. It accepts the arguments of '
        '``aws s3 sync``; uploads and syncs between S3 locations are '
        'refused: use ``aws s3 sync`` for them.')
    USAGE = USAGE
    EXAMPLES = EXAMPLES
    ARG_TABLE = _sync_argument_table()
    CHECKED_AS = SyncCommand
    NOT_A_DOWNLOAD = NOT_A_DOWNLOAD

    def _download_command(self, params, downloader):
        return SyncDownloadCommand(params, self.client, downloader)


class SyncDownloadCommand(DownloadCommand):
    """``DownloadCommand`` with sync's comparison of the two listings."""

    def _list_fileinfos(self, result_queue):
        comparator = Comparator(**choose_sync_strategies(self._params))
        compared = comparator.call(self._list_objects(result_queue),
                                   self._list_local_files(result_queue))
        return FileInfoBuilder(self._client, parameters=self._params).call(
            compared)

    def _start_for(self, fileinfos):
        """As ppcp's for many files, once the comparison has found a first
        file to download or delete: a sync with nothing to do (the usual
        second run) starts no process."""
        return started_at_first(fileinfos, lambda first: (
            self._downloader.start(several_workers=True)))

    def _handler_params(self):
        # As v2's sync: the strategy has already left out the files that
        # exist, so the download submitter does not look again.
        params = dict(self._params)
        params.pop('no_overwrite', None)
        return params
