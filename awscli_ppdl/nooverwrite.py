"""``--no-overwrite``, as AWS CLI v2 defines it for ``cp``, ``mv`` and
``sync`` (aws-cli #2874), for ``ppcp`` and ``ppsync``.

AWS CLI v1 (the one this plugin runs in) has no such argument; v2's
``DownloadRequestSubmitter`` has one more warning handler,
``_warn_if_file_exists_with_no_overwrite``: a download whose destination
file exists is skipped before any request, after the Glacier and
parent-reference checks, with a DEBUG log record only. No result is queued,
so nothing is printed and the exit code is not changed (0 when nothing else
happened). ``sync`` uses a sync strategy instead (``NoOverwriteSync``, for
files at both the source and the destination), which has the same effect.
"""
import datetime
import logging
import os

from awscli.customizations.s3.s3handler import (
    DownloadRequestSubmitter, S3TransferHandler)
from awscli.customizations.s3.syncstrategy.base import BaseSync
from s3transfer.subscribers import BaseSubscriber

LOGGER = logging.getLogger(__name__)

NO_OVERWRITE = {
    'name': 'no-overwrite', 'action': 'store_true',
    'help_text': (
        'This flag prevents overwriting of files at the destination. With '
        'this flag, only files not present at the destination will be '
        'transferred. An existing local file is left as it is (its bytes '
        'and its modification time) and its object is not downloaded; '
        'nothing is printed for it and the exit code is not changed, as '
        'with ``--no-overwrite`` of AWS CLI v2. It is refused for a '
        'download to standard output (``-``).'),
}

NOT_FOR_STREAMS = ('--no-overwrite parameter is not supported for '
                   'streaming downloads')


def check_no_overwrite(params):
    """v2's ``_validate_no_overwrite_for_download_streaming``."""
    if (params.get('no_overwrite') and params.get('is_stream')
            and params.get('dest') == '-'):
        raise ValueError(NOT_FOR_STREAMS)


class NoOverwriteDownloadRequestSubmitter(DownloadRequestSubmitter):
    """The CLI's download submitter with v2's no-overwrite check."""

    def _get_warning_handlers(self):
        return super()._get_warning_handlers() + [
            self._warn_if_file_exists_with_no_overwrite]

    def _add_additional_subscribers(self, subscribers, fileinfo):
        super()._add_additional_subscribers(subscribers, fileinfo)
        subscribers.append(ProvideLastModifiedForResume(fileinfo.last_update))

    def _warn_if_file_exists_with_no_overwrite(self, fileinfo):
        if not self._cli_params.get('no_overwrite'):
            return False
        if os.path.exists(self._get_fileout(fileinfo)):
            LOGGER.debug('warning: skipping %s -> %s, file exists at '
                         'destination', fileinfo.src, fileinfo.dest)
            return True
        return False


class ProvideLastModifiedForResume(BaseSubscriber):
    """Puts the listed LastModified (in UTC, whatever the local time zone)
    in the meta's ``user_context``, where the engine looks for it: a
    partial download is resumed only for an object with the same ETag,
    size and LastModified (``resume``)."""

    def __init__(self, last_modified):
        self._last_modified = last_modified

    def on_queued(self, future, **kwargs):
        if self._last_modified is not None:
            future.meta.user_context['last_modified'] = (
                self._last_modified.astimezone(datetime.timezone.utc)
                .isoformat())


class NoOverwriteS3TransferHandler(S3TransferHandler):
    """``S3TransferHandler`` whose download submitter honours
    ``--no-overwrite``."""

    # The CLI's DownloadRequestSubmitter is replaced by this class.
    DOWNLOAD_SUBMITTER = NoOverwriteDownloadRequestSubmitter

    def __init__(self, transfer_manager, cli_params, result_command_recorder):
        super().__init__(transfer_manager, cli_params,
                         result_command_recorder)
        self._submitters = [
            self.DOWNLOAD_SUBMITTER(
                transfer_manager, result_command_recorder.result_queue,
                cli_params)
            if type(submitter) is DownloadRequestSubmitter else submitter
            for submitter in self._submitters]


class NoOverwriteSync(BaseSync):
    """v2's sync strategy for files at both ends: never sync them."""

    ARGUMENT = NO_OVERWRITE

    def determine_should_sync(self, src_file, dest_file):
        LOGGER.debug('warning: skipping %s -> %s, file exists at '
                     'destination', src_file.src, src_file.dest)
        return False
