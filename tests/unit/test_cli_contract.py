"""The AWS CLI internals the plugin reuses, pinned by setup.cfg's range.

They are not a public API: if an awscli release renames or reshapes one,
this test fails first and names it, before any user sees a traceback.
"""
import importlib
import inspect

import pytest

REUSED = {
    'awscli.customizations.s3.subcommands': [
        'CpCommand', 'S3TransferCommand', 'S3Command'],
    'awscli.customizations.s3.s3handler': [
        'S3TransferHandler', 'S3TransferHandlerFactory',
        'DownloadRequestSubmitter'],
    'awscli.customizations.s3.results': [
        'CommandResultRecorder', 'ResultProcessor', 'ResultRecorder'],
    'awscli.customizations.s3.transferconfig': ['RuntimeConfig'],
    'awscli.customizations.s3.comparator': ['Comparator'],
    'awscli.customizations.s3.fileformat': ['FileFormat'],
    'awscli.customizations.s3.filegenerator': ['FileGenerator'],
    'awscli.customizations.s3.filters': ['create_filter'],
    'awscli.customizations.s3.fileinfobuilder': ['FileInfoBuilder'],
    'awscli.customizations.s3.syncstrategy.caseconflict': [
        'CaseConflictSync'],
    'awscli.customizations.s3.syncstrategy.base': ['AlwaysSync', 'NeverSync'],
    'awscli.customizations.s3.utils': [
        'RequestParamsMapper', 'find_bucket_key', 'BucketLister',
        '_date_parser'],
    's3transfer.exceptions': ['CancelledError', 'FatalError'],
    's3transfer.futures': ['TransferMeta'],
    's3transfer.utils': ['CallArgs', 'S3_RETRYABLE_DOWNLOAD_ERRORS'],
}


@pytest.mark.parametrize('module_name, names', sorted(REUSED.items()))
def test_reused_names_exist(module_name, names):
    module = importlib.import_module(module_name)
    missing = [name for name in names if not hasattr(module, name)]
    assert missing == []


def test_cp_argument_table_still_has_the_download_flags():
    from awscli.customizations.s3.subcommands import CpCommand

    names = {arg['name'] for arg in CpCommand.ARG_TABLE}
    assert {'paths', 'recursive', 'include', 'exclude', 'dryrun', 'quiet',
            'only-show-errors', 'no-progress', 'page-size', 'request-payer',
            'expected-size', 'sse-c', 'sse-c-key', 'case-conflict',
            'checksum-mode', 'ignore-glacier-warnings',
            'force-glacier-transfer'} <= names


def test_transfer_handler_drives_a_manager_through_download():
    """S3TransferHandler calls ``download(fileobj=, bucket=, key=,
    extra_args=, subscribers=)`` on the manager it is given."""
    from awscli.customizations.s3.s3handler import DownloadRequestSubmitter

    source = inspect.getsource(
        DownloadRequestSubmitter._submit_transfer_request)
    assert '_transfer_manager.download(' in source
    for keyword in ('fileobj=', 'bucket=', 'key=', 'extra_args=',
                    'subscribers='):
        assert keyword in source


def test_factory_result_printer_hook():
    from awscli.customizations.s3.s3handler import S3TransferHandlerFactory

    assert callable(getattr(S3TransferHandlerFactory, '_add_result_printer'))


def test_vendored_botocore_is_the_one_in_use():
    import awscli
    import botocore
    import os

    assert os.path.dirname(botocore.__file__) == os.path.join(
        os.path.dirname(awscli.__file__), 'botocore')


def test_botocore_internals_of_the_direct_get_path():
    """awscli_ppdl.getobject sends on the client's own HTTP session, learns
    the request from ``before-sign``'s arguments and hands an outcome back
    through ``before-send``, whose handler may return or raise one."""
    import botocore.session
    from botocore.endpoint import Endpoint
    from botocore.httpchecksum import handle_checksum_body
    from botocore.httpsession import URLLib3Session
    from botocore.signers import RequestSigner

    client = botocore.session.get_session().create_client(
        's3', region_name='us-east-1', aws_access_key_id='a',
        aws_secret_access_key='b')
    assert isinstance(client._endpoint.http_session, URLLib3Session)
    sign = inspect.getsource(RequestSigner.sign)
    for keyword in ('before-sign', 'request=request', 'signing_name=',
                    'region_name=', 'signature_version=', 'request_signer=',
                    "signing_context.get('region')",
                    "signing_context['signing_name']"):
        assert keyword in sign
    assert 'get_auth_instance' in dir(RequestSigner)
    send = inspect.getsource(Endpoint._do_get_response)
    assert 'first_non_none_response(responses)' in send
    assert 'except Exception as e:' in send
    # A direct GET's body is checked by botocore's own response handling.
    assert 'handle_checksum_body(' in send
    assert list(inspect.signature(handle_checksum_body).parameters) == [
        'http_response', 'response', 'context', 'operation_model']


def test_the_listing_we_mirror():
    """_DownloadFileGenerator.list_objects is FileGenerator.list_objects for
    a download, with its own date parser handed to BucketLister."""
    from awscli.customizations.s3.filegenerator import FileGenerator
    from awscli.customizations.s3.utils import BucketLister

    source = inspect.getsource(FileGenerator.list_objects)
    for line in ("if not dir_op and prefix:",
                 "yield self._list_single_object(s3_path)",
                 "lister = BucketLister(self._client)",
                 "self.request_parameters.get('ListObjectsV2', {})",
                 "page_size=self.page_size",
                 "if response_data['Size'] == 0 and source_path.endswith('/'):",
                 "if self.operation_name == 'delete':",
                 "elif not dir_op and s3_path != source_path:"):
        assert line in source
    assert 'date_parser' in inspect.signature(BucketLister).parameters
