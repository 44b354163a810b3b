"""The AWS CLI internals the plugin reuses, pinned by setup.cfg's range.

They are not a public API: if an awscli release renames or reshapes one,
this test fails first and names it, before any user sees a traceback.
"""
import importlib
import inspect
import re

import pytest

REUSED = {
    'awscli.customizations.s3.subcommands': [
        'CpCommand', 'S3TransferCommand', 'S3Command', 'CommandParameters',
        'SyncCommand'],
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
    'awscli.customizations.s3.syncstrategy.base': [
        'AlwaysSync', 'NeverSync', 'BaseSync', 'MissingFileSync',
        'SizeAndLastModifiedSync'],
    'awscli.customizations.s3.syncstrategy.sizeonly': ['SizeOnlySync'],
    'awscli.customizations.s3.syncstrategy.exacttimestamps': [
        'ExactTimestampsSync'],
    'awscli.customizations.s3.syncstrategy.delete': ['DeleteSync'],
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


def missing_from_source(obj, fragments):
    """The ``fragments`` that ``obj``'s source code does not contain."""
    source = inspect.getsource(obj)
    return [fragment for fragment in fragments if fragment not in source]


def test_transfer_handler_drives_a_manager_through_download():
    """S3TransferHandler calls ``download(fileobj=, bucket=, key=,
    extra_args=, subscribers=)`` on the manager it is given."""
    from awscli.customizations.s3.s3handler import DownloadRequestSubmitter

    assert missing_from_source(
        DownloadRequestSubmitter._submit_transfer_request,
        ['_transfer_manager.download(', 'fileobj=', 'bucket=', 'key=',
         'extra_args=', 'subscribers=']) == []


def test_sync_strategies_are_chosen_as_ppsync_chooses_them():
    """awscli_ppdl.synccommand.choose_sync_strategies mirrors
    ``CommandArchitecture.choose_sync_strategies`` and the strategies
    ``register_sync_strategies`` registers for ``sync``; the sync
    arguments it adds are the strategies' ``ARGUMENT``s."""
    from awscli.customizations.s3.subcommands import (
        CommandArchitecture, SyncCommand)
    from awscli.customizations.s3.syncstrategy.register import (
        register_sync_strategies)

    assert missing_from_source(CommandArchitecture.choose_sync_strategies, [
        'SizeAndLastModifiedSync()', 'CaseConflictSync(', 'MissingFileSync()',
        'NeverSync()', "'choosing-s3-sync-strategy'",
        "sync_type += '_sync_strategy'"]) == []
    assert missing_from_source(register_sync_strategies, [
        'register_sync_strategy(session, SizeOnlySync)',
        'register_sync_strategy(session, ExactTimestampsSync)',
        "register_sync_strategy(session, DeleteSync, 'file_not_at_src')",
    ]) == []
    names = {arg['name'] for arg in SyncCommand.ARG_TABLE}
    assert {'paths', 'include', 'exclude', 'dryrun', 'quiet',
            'only-show-errors', 'no-progress', 'page-size', 'request-payer',
            'follow-symlinks', 'checksum-mode', 'case-conflict'} <= names


def test_local_deletes_are_the_transfer_handlers():
    """``--delete`` of a download: the comparator marks local files
    ``delete``, and the handler's ``LocalDeleteRequestSubmitter`` removes
    them and prints the line."""
    from awscli.customizations.s3.s3handler import (
        LocalDeleteRequestSubmitter, S3TransferHandler)

    assert missing_from_source(S3TransferHandler.__init__, [
        'LocalDeleteRequestSubmitter(*submitter_args)']) == []
    assert missing_from_source(LocalDeleteRequestSubmitter.can_submit, [
        "fileinfo.operation_name == 'delete'",
        "fileinfo.src_type == 'local'"]) == []


def test_download_submitter_skips_on_a_warning_handler():
    """awscli_ppdl.nooverwrite adds a warning handler to the CLI's download
    submitter (as v2 does) and swaps it into ``S3TransferHandler``'s
    ``_submitters``; a handler returning True skips the file before the
    dry run or the transfer."""
    from awscli.customizations.s3.s3handler import (
        BaseTransferRequestSubmitter, DownloadRequestSubmitter,
        S3TransferHandler)

    assert missing_from_source(BaseTransferRequestSubmitter.submit, [
        'self._warn_and_signal_if_skip(fileinfo)',
        'self._do_submit(fileinfo)']) == []
    assert missing_from_source(S3TransferHandler.__init__, [
        'self._submitters = [', 'DownloadRequestSubmitter(*submitter_args)'
    ]) == []
    assert callable(DownloadRequestSubmitter._get_warning_handlers)
    assert callable(DownloadRequestSubmitter._get_fileout)


def test_crt_s3_signer_decides_what_the_template_signer_mirrors():
    """``CrtTemplateSigner`` asks botocore's ``CrtS3SigV4Auth`` what to
    sign, once per template, and signs with the configuration its
    ``add_auth`` builds; test_getobject.py compares their signatures."""
    import botocore.auth  # noqa: F401 (botocore.crt.auth needs it first)
    from botocore.crt.auth import CrtS3SigV4Auth

    assert [name for name in (
        '_modify_request_before_signing', '_is_streaming_checksum_payload',
        '_should_sha256_sign_payload', '_should_add_content_sha256_header',
        '_should_sign_header') if not hasattr(CrtS3SigV4Auth, name)] == []
    assert missing_from_source(CrtS3SigV4Auth.add_auth, [
        'should_sign_header=self._should_sign_header',
        'use_double_uri_encode=self._USE_DOUBLE_URI_ENCODE',
        'should_normalize_uri_path=self._SHOULD_NORMALIZE_URI_PATH',
        'signed_body_value=explicit_payload',
        'signed_body_header_type=body_header',
        'expiration_in_seconds=self._expiration_in_seconds']) == []
    assert CrtS3SigV4Auth(None, 's3', 'r')._expiration_in_seconds is None


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
    """awscli_ppdl.getobject reads the client's HTTP session (a
    ``URLLib3Session``) for the workers' own, learns the request from
    ``before-sign``'s arguments and hands an outcome back through
    ``before-send``, whose handler may return or raise one."""
    import botocore.session
    from botocore.endpoint import Endpoint
    from botocore.httpchecksum import handle_checksum_body
    from botocore.httpsession import URLLib3Session
    from botocore.signers import RequestSigner

    client = botocore.session.get_session().create_client(
        's3', region_name='us-east-1', aws_access_key_id='a',
        aws_secret_access_key='b')
    assert isinstance(client._endpoint.http_session, URLLib3Session)
    assert missing_from_source(RequestSigner.sign, [
        'before-sign', 'request=request', 'signing_name=', 'region_name=',
        'signature_version=', "signing_context.get('region')",
        "signing_context['signing_name']"]) == []
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

    assert missing_from_source(FileGenerator.list_objects, [
        "if not dir_op and prefix:",
        "yield self._list_single_object(s3_path)",
        "lister = BucketLister(self._client)",
        "self.request_parameters.get('ListObjectsV2', {})",
        "page_size=self.page_size",
        "if response_data['Size'] == 0 and source_path.endswith('/'):",
        "if self.operation_name == 'delete':",
        "elif not dir_op and s3_path != source_path:"]) == []
    assert 'date_parser' in inspect.signature(BucketLister).parameters


def test_botocore_internals_a_worker_signs_and_checks_with():
    """A worker signs and checks a direct GET without a client: botocore's
    S3 signers read only ``TEMPLATE_CONTEXT`` (and what they write
    themselves) from a request's context, ``RequestTemplate.auth`` builds
    the signer as ``get_auth_instance`` does, and ``handle_checksum_body``
    asks the operation model only whether its output streams."""
    import botocore.auth
    import botocore.compat
    import botocore.httpchecksum
    from botocore.signers import RequestSigner

    from awscli_ppdl.getobject import TEMPLATE_CONTEXT

    signer_modules = [botocore.auth]
    if botocore.compat.HAS_CRT:
        import botocore.crt.auth

        signer_modules.append(botocore.crt.auth)
    read = set()
    for module in signer_modules:
        read.update(re.findall(r"""\bcontext(?:\.get\(|\[)['"]([\w-]+)['"]""",
                               inspect.getsource(module)))
    written_by_signers = {'timestamp', 's3-presign-post-fields',
                          's3-presign-post-policy'}
    assert 'client_config' in read
    assert read - written_by_signers <= set(TEMPLATE_CONTEXT)
    assert missing_from_source(RequestSigner.get_auth_instance, [
        'cls = botocore.auth.AUTH_TYPE_MAPS.get(signature_version)',
        'frozen_credentials = credentials.get_frozen_credentials()',
        "kwargs['credentials'] = frozen_credentials",
        'if cls.REQUIRES_REGION:',
        "kwargs['region_name'] = region_name",
        "kwargs['service_name'] = signing_name",
        'auth = cls(**kwargs)']) == []
    checksum_source = inspect.getsource(
        botocore.httpchecksum.handle_checksum_body)
    assert set(re.findall(r'operation_model\.(\w+)', checksum_source)) == {
        'has_streaming_output'}


@pytest.mark.parametrize('client_kwargs, config', [
    ({}, {}),
    ({'verify': False}, {}),
    ({'verify': '/path/to/ca-bundle.pem'}, {}),
    ({}, {'connect_timeout': 3, 'read_timeout': 7.5,
          'max_pool_connections': 3, 'tcp_keepalive': True,
          'proxies': {'https': 'http://proxy.example:8080'},
          'proxies_config': {'proxy_use_forwarding_for_https': True},
          'client_cert': ('/path/cert.pem', '/path/key.pem')}),
    ({}, {'client_cert': '/path/both.pem'}),
], ids=['defaults', 'no-verify', 'ca-bundle', 'all-settings', 'one-cert'])
def test_a_workers_http_session_is_built_as_the_clients(client_kwargs,
                                                         config):
    import pickle

    import botocore.session
    from botocore.config import Config

    from awscli_ppdl.getobject import HttpSessionSettings

    client = botocore.session.get_session().create_client(
        's3', region_name='us-east-1', aws_access_key_id='a',
        aws_secret_access_key='b', config=Config(**config), **client_kwargs)
    settings = HttpSessionSettings.of_client(client)
    assert pickle.loads(pickle.dumps(settings)) == settings
    theirs = client._endpoint.http_session
    ours = settings.create_session()

    def described(session):
        pool_kwargs = session._get_pool_manager_kwargs()
        del pool_kwargs['ssl_context']
        timeout = pool_kwargs.pop('timeout')
        return (pool_kwargs, session._verify, session._proxy_config._proxies,
                session._proxy_config.settings,
                (timeout.connect_timeout, timeout.read_timeout))

    assert described(ours) == described(theirs)


@pytest.mark.parametrize('threads, pool', [(4, 10), (16, 16)])
def test_a_workers_pool_keeps_a_connection_per_thread(threads, pool):
    import botocore.session

    from awscli_ppdl.getobject import HttpSessionSettings

    client = botocore.session.get_session().create_client(
        's3', region_name='us-east-1', aws_access_key_id='a',
        aws_secret_access_key='b')
    settings = HttpSessionSettings.of_client(client).with_room_for(threads)
    session = settings.create_session()
    assert session._get_pool_manager_kwargs()['maxsize'] == pool
