"""The seed's Python API, whole (tracker issue 27).

``awscli_ppdl.processpool`` keeps the public API of standalone s3transfer's
``s3transfer/processpool.py`` (0.19.x), "the seed": what a program written
against the seed can see of ``ProcessPoolDownloader``, its futures and their
``meta``, ``shutdown()`` and the context manager. Against moto's server,
the library way (``tests.helpers.library_downloader``).

Where the seed and this project differ on purpose, the test says so:

- leaving a ``with`` block on an exception other than Ctrl-C cancels the
  downloads in flight (as s3transfer's ``TransferManager`` and ``aws s3 cp``
  on a fatal error do); the seed waited for them;
- ``cancel()`` of a finished future changes nothing (as ``TransferManager``'s
  futures); the seed's would make ``result()`` raise ``CancelledError``
  afterwards, although the file was written.

The seed's functional tests already covered elsewhere, and not repeated
here: one object, several objects, a ranged download, a missing key
without ``expected_size`` (tests/functional/test_start_methods.py); cancel
of one future among others (tests/faults/test_supervision.py).
"""
import multiprocessing
import os
import signal
import sys
import threading

import pytest
from botocore.exceptions import ClientError
from s3transfer.exceptions import CancelledError, FatalError
from s3transfer.futures import BaseTransferFuture, BaseTransferMeta
from s3transfer.utils import CallArgs

from awscli_ppdl.processpool import (
    ProcessPoolTransferFuture, ProcessPoolTransferMeta)
from tests.faults.proxy import Rule
from tests.helpers import (
    assert_no_temp_files, file_sha256, files_under, library_downloader,
    sha256, wait_until)

MiB = 1024 * 1024
HOLD_TIMEOUT = 30


@pytest.fixture
def out(tmp_path):
    """The destination directory: nothing but the downloads lands here."""
    path = tmp_path / 'out'
    path.mkdir()
    return path


class HeldGets:
    """A proxy rule that holds every GET of ``key`` until ``release()``
    (a key of one path segment).

    ``started`` is set when the first such GET reaches the proxy: from then
    on the download is in flight, and stays so until released (or until the
    held requests time out, a deadline against hangs only).
    """
    def __init__(self, fault_proxy, key):
        self.started = threading.Event()
        self._release = threading.Event()
        fault_proxy.add_rule(Rule(method='GET', path=f'/{key}$',
                                  callback=self._hold))

    def _hold(self, record):
        self.started.set()
        self._release.wait(HOLD_TIMEOUT)

    def release(self):
        self._release.set()


@pytest.fixture
def held(fault_proxy):
    """``held(key)``: a :class:`HeldGets`; every one is released at the end
    of the test, so that the proxy's threads can stop."""
    made = []

    def hold(key):
        made.append(HeldGets(fault_proxy, key))
        return made[-1]
    try:
        yield hold
    finally:
        for one in made:
            one.release()


# -- the future's meta --------------------------------------------------------

def test_the_meta_is_built_as_the_seeds():
    """``ProcessPoolTransferMeta(transfer_id, call_args)``: the seed's order
    (s3transfer's ``TransferMeta`` takes them the other way round), by
    position or by name, and a fresh ``user_context`` for each."""
    call_args = CallArgs(bucket='b', key='k', filename='/tmp/f',
                         extra_args={}, expected_size=3)
    meta = ProcessPoolTransferMeta(5, call_args)
    assert meta.transfer_id == 5
    assert meta.call_args is call_args
    assert meta.user_context == {}
    by_name = ProcessPoolTransferMeta(call_args=call_args, transfer_id=6)
    assert (by_name.transfer_id, by_name.call_args) == (6, call_args)
    meta.user_context['mine'] = 1
    assert by_name.user_context == {}
    assert isinstance(meta, BaseTransferMeta)


@pytest.mark.timeout(60)
def test_a_futures_meta_is_a_process_pool_transfer_meta(
        s3_server, s3_client, bucket, out):

    s3_client.put_object(Bucket=bucket, Key='a', Body=b'aaa')
    s3_client.put_object(Bucket=bucket, Key='b', Body=b'bb')
    with library_downloader(s3_server.endpoint_url,
                            processes=1) as downloader:
        first = downloader.download_file(bucket, 'a', str(out / 'a'))
        second = downloader.download_file(
            bucket, 'b', str(out / 'b'),
            extra_args={'RequestPayer': 'requester'}, expected_size=2)
    assert first.result() is None and second.result() is None

    assert type(first.meta) is ProcessPoolTransferMeta
    assert isinstance(first.meta, BaseTransferMeta)
    assert isinstance(first.meta.transfer_id, int)
    assert first.meta.transfer_id != second.meta.transfer_id
    # The seed's CallArgs: extra_args {} when none was given.
    args = first.meta.call_args
    assert (args.bucket, args.key, args.filename, args.extra_args,
            args.expected_size) == (bucket, 'a', str(out / 'a'), {}, None)
    args = second.meta.call_args
    assert (args.bucket, args.key, args.filename, args.extra_args,
            args.expected_size) == (bucket, 'b', str(out / 'b'),
                                    {'RequestPayer': 'requester'}, 2)
    # user_context: the same dict each time, the requester's to write.
    assert first.meta.user_context == {}
    first.meta.user_context['seen'] = True
    assert first.meta.user_context == {'seen': True}
    assert second.meta.user_context == {}
    assert (out / 'a').read_bytes() == b'aaa'
    assert (out / 'b').read_bytes() == b'bb'


# -- the future ---------------------------------------------------------------

@pytest.mark.timeout(60)
def test_the_future_is_a_base_transfer_future(s3_server, s3_client, bucket,
                                              out):
    """Code written against the seed checks futures against s3transfer's
    base class (the CLI's vendored s3transfer, the one the engine imports)."""
    s3_client.put_object(Bucket=bucket, Key='k', Body=b'data')
    with library_downloader(s3_server.endpoint_url,
                            processes=1) as downloader:
        future = downloader.download_file(bucket, 'k', str(out / 'k'))
    future.result()
    assert isinstance(future, ProcessPoolTransferFuture)
    assert isinstance(future, BaseTransferFuture)
    assert issubclass(ProcessPoolTransferFuture, BaseTransferFuture)
    assert isinstance(future.meta, BaseTransferMeta)


@pytest.mark.timeout(60)
def test_done_and_result_follow_a_real_download(
        s3_client, bucket, fault_proxy, held, out):
    body = os.urandom(MiB + 3)
    s3_client.put_object(Bucket=bucket, Key='k', Body=body)
    gets = held('k')
    with library_downloader(fault_proxy.endpoint_url,
                            processes=1) as downloader:
        future = downloader.download_file(bucket, 'k', str(out / 'k'),
                                          expected_size=len(body))
        assert gets.started.wait(HOLD_TIMEOUT), 'the GET never came'
        assert future.done() is False
        gets.release()
        assert future.result() is None
        assert future.done() is True
    assert file_sha256(out / 'k') == sha256(body)
    assert files_under(out) == {'k'}


@pytest.mark.timeout(60)
def test_cancel_of_a_finished_future_changes_nothing(
        s3_server, s3_client, bucket, out):
    s3_client.put_object(Bucket=bucket, Key='k', Body=b'kept')
    with library_downloader(s3_server.endpoint_url,
                            processes=1) as downloader:
        future = downloader.download_file(bucket, 'k', str(out / 'k'))
        assert future.result() is None
        future.cancel()
        assert future.done() is True
        assert future.result() is None
    future.cancel()
    assert future.result() is None
    assert (out / 'k').read_bytes() == b'kept'
    assert files_under(out) == {'k'}


@pytest.mark.timeout(60)
def test_cancel_of_a_pending_future_fails_its_result(
        s3_client, bucket, fault_proxy, held, out):
    """As the seed's ``test_result_with_cancel``: cancelled right after it
    was submitted, its GET held so that it cannot finish first; released
    once the cancel is in the monitor (``cancel()`` returns after that), as
    the cancelled download ends only when its worker has let go of it."""
    s3_client.put_object(Bucket=bucket, Key='k', Body=b'never')
    gets = held('k')
    with library_downloader(fault_proxy.endpoint_url,
                            processes=1) as downloader:
        future = downloader.download_file(bucket, 'k', str(out / 'k'),
                                          expected_size=5)
        future.cancel()
        gets.release()
        with pytest.raises(CancelledError) as error:
            future.result()
        assert type(error.value) is CancelledError
        assert future.done() is True
    assert files_under(out) == set()
    assert multiprocessing.active_children() == []


def _interrupt_main_thread_in(function_name, before):
    """Once ``before`` is set and the main thread is inside a function named
    ``function_name``, send this process SIGINT (Ctrl-C)."""
    main = threading.main_thread().ident

    def inside():
        frame = sys._current_frames().get(main)
        while frame is not None:
            if frame.f_code.co_name == function_name:
                return True
            frame = frame.f_back
        return False

    def run():
        if not before.wait(HOLD_TIMEOUT):
            return
        wait_until(inside, HOLD_TIMEOUT,
                   f'the main thread never entered {function_name}()')
        os.kill(os.getpid(), signal.SIGINT)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.timeout(60)
def test_ctrl_c_in_result_cancels_that_download(
        s3_client, bucket, fault_proxy, held, out):
    """The seed's ``result()`` (as s3transfer's ``TransferFuture.result``):
    a KeyboardInterrupt while it waits cancels the transfer, then goes on.
    Outside a ``with`` block, so that only ``result()`` can cancel it."""
    s3_client.put_object(Bucket=bucket, Key='k', Body=os.urandom(MiB))
    gets = held('k')
    downloader = library_downloader(fault_proxy.endpoint_url, processes=1)
    try:
        future = downloader.download_file(bucket, 'k', str(out / 'k'),
                                          expected_size=MiB)
        interrupter = _interrupt_main_thread_in('result', gets.started)
        with pytest.raises(KeyboardInterrupt):
            future.result()
        interrupter.join()
        gets.release()
        with pytest.raises(CancelledError):
            future.result()
    finally:
        gets.release()
        downloader.shutdown()
    assert future.done() is True
    assert files_under(out) == set()
    assert multiprocessing.active_children() == []


# -- shutdown() and starting again --------------------------------------------

@pytest.mark.timeout(60)
def test_shutdown_before_any_download_then_download(
        s3_server, s3_client, bucket, out):
    """The seed's ``shutdown()`` of a downloader that never started does
    nothing: the next ``download_file`` starts it as usual."""
    body = os.urandom(1000)
    s3_client.put_object(Bucket=bucket, Key='k', Body=body)
    downloader = library_downloader(s3_server.endpoint_url, processes=1)
    downloader.shutdown()
    try:
        future = downloader.download_file(bucket, 'k', str(out / 'k'))
        assert future.result() is None
    finally:
        downloader.shutdown()
    assert (out / 'k').read_bytes() == body
    assert multiprocessing.active_children() == []


@pytest.mark.timeout(90)
def test_a_downloader_starts_again_after_shutdown(
        s3_server, s3_client, bucket, out):
    """The seed's ``shutdown()`` stops the processes and forgets them: the
    next ``download_file`` starts new ones. Two ``with`` blocks on one
    downloader, then ``download_file`` and ``shutdown()`` by hand; shutdown
    twice in a row is fine."""
    bodies = {'one': os.urandom(2 * MiB + 1), 'two': os.urandom(777),
              'three': os.urandom(MiB + 5)}
    for key, body in bodies.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    downloader = library_downloader(s3_server.endpoint_url, processes=1)
    with downloader:
        first = downloader.download_file(bucket, 'one', str(out / 'one'))
    assert first.result() is None
    assert multiprocessing.active_children() == []

    try:
        with downloader:
            second = downloader.download_file(bucket, 'two', str(out / 'two'))
        assert second.result() is None
        assert multiprocessing.active_children() == []
        third = downloader.download_file(bucket, 'three', str(out / 'three'))
        assert third.result() is None
    finally:
        downloader.shutdown()
    downloader.shutdown()
    for key, body in bodies.items():
        assert file_sha256(out / key) == sha256(body), key
    assert files_under(out) == set(bodies)
    assert multiprocessing.active_children() == []


@pytest.mark.timeout(30)
def test_shutdown_twice_without_downloads():
    """The seed's ``test_shutdown_with_no_downloads``, and once more."""
    downloader = library_downloader('http://127.0.0.1:9', processes=1)
    downloader.shutdown()
    downloader.shutdown()
    assert multiprocessing.active_children() == []


# -- the with block -----------------------------------------------------------

@pytest.mark.timeout(60)
def test_leaving_the_block_on_an_error_cancels_the_downloads_in_flight(
        s3_client, bucket, fault_proxy, held, out):
    """DECIDED (issue 27): unlike the seed, which waited for them, an
    exception other than Ctrl-C cancels what is in flight, as s3transfer's
    TransferManager and ``aws s3 cp`` on a fatal error do. The exception
    leaves the block unchanged; each future in flight ends with a
    ``FatalError`` carrying its message (not a plain ``CancelledError``);
    nothing is left at the destinations; the processes are stopped."""
    s3_client.put_object(Bucket=bucket, Key='big', Body=os.urandom(2 * MiB))
    s3_client.put_object(Bucket=bucket, Key='next', Body=b'next')
    gets = held('big')
    held('next')    # so that it cannot finish before the exception
    failure = ValueError('the program failed')
    downloader = library_downloader(fault_proxy.endpoint_url, processes=1,
                                    part_size=None)
    with pytest.raises(ValueError) as raised:
        with downloader:
            in_flight = downloader.download_file(
                bucket, 'big', str(out / 'big'), expected_size=2 * MiB)
            queued = downloader.download_file(
                bucket, 'next', str(out / 'next'), expected_size=4)
            assert gets.started.wait(HOLD_TIMEOUT), 'the GET never came'
            raise failure
    assert raised.value is failure
    assert str(raised.value) == 'the program failed'

    for future in (in_flight, queued):
        assert future.done() is True
        with pytest.raises(FatalError) as error:
            future.result()
        assert type(error.value) is FatalError
        assert str(error.value) == 'the program failed'
    assert multiprocessing.active_children() == []
    gets.release()
    assert files_under(out) == set()


@pytest.mark.timeout(60)
def test_leaving_the_block_on_ctrl_c_cancels_the_downloads(
        s3_client, bucket, fault_proxy, held, out):
    """As the seed (its integration test
    ``test_large_download_exits_quickly_on_exception``): Ctrl-C in the block
    cancels the downloads, which end with ``CancelledError``; no file, no
    temp file; the KeyboardInterrupt goes on."""
    s3_client.put_object(Bucket=bucket, Key='big', Body=os.urandom(2 * MiB))
    gets = held('big')
    downloader = library_downloader(fault_proxy.endpoint_url, processes=1)
    interrupt = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt) as raised:
        with downloader:
            future = downloader.download_file(
                bucket, 'big', str(out / 'big'), expected_size=2 * MiB)
            assert gets.started.wait(HOLD_TIMEOUT), 'the GET never came'
            raise interrupt
    assert raised.value is interrupt
    assert future.done() is True
    with pytest.raises(CancelledError) as error:
        future.result()
    assert type(error.value) is CancelledError
    assert multiprocessing.active_children() == []
    gets.release()
    assert files_under(out) == set()


@pytest.mark.parametrize('exception', [KeyboardInterrupt(),
                                       ValueError('early')])
def test_an_exception_before_any_download_leaves_the_block_unchanged(
        exception):
    """The seed's ``test_shutdown_with_no_downloads_and_ctrl_c``: a
    downloader that never started has nothing to cancel; only the exception
    comes out."""
    downloader = library_downloader('http://127.0.0.1:9', processes=1)
    with pytest.raises(type(exception)) as raised:
        with downloader:
            raise exception
    assert raised.value is exception
    assert multiprocessing.active_children() == []


# -- the seed's functional tests not covered elsewhere ----------------------

@pytest.mark.timeout(60)
def test_extra_args_reach_the_request(s3_server, s3_client, bucket, out):
    """The seed's ``test_download_file_extra_args``: a ``VersionId`` picks
    the older version."""
    s3_client.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={'Status': 'Enabled'})
    old = s3_client.put_object(Bucket=bucket, Key='k', Body=b'old version')
    s3_client.put_object(Bucket=bucket, Key='k', Body=b'new')
    with library_downloader(s3_server.endpoint_url,
                            processes=1) as downloader:
        by_version = downloader.download_file(
            bucket, 'k', str(out / 'old'),
            extra_args={'VersionId': old['VersionId']})
        latest = downloader.download_file(bucket, 'k', str(out / 'new'))
    assert by_version.result() is None and latest.result() is None
    assert (out / 'old').read_bytes() == b'old version'
    assert (out / 'new').read_bytes() == b'new'


@pytest.mark.timeout(60)
def test_a_version_fetched_in_parts(s3_client, bucket, fault_proxy, out):
    """``VersionId`` in ``extra_args`` of an object above the multipart
    threshold: the HeadObject (no ``expected_size``) and every ranged GET
    ask for that version, the GETs with ``IfMatch`` of its ETag; the
    bytes are the old version's, though the latest is of another size."""
    s3_client.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={'Status': 'Enabled'})
    body = os.urandom(3 * MiB + 12345)
    old = s3_client.put_object(Bucket=bucket, Key='k', Body=body)
    s3_client.put_object(Bucket=bucket, Key='k', Body=b'new')
    with library_downloader(fault_proxy.endpoint_url,
                            processes=2) as downloader:
        downloader.download_file(
            bucket, 'k', str(out / 'old'),
            extra_args={'VersionId': old['VersionId']}).result()
    assert file_sha256(out / 'old') == sha256(body)
    assert files_under(out) == {'old'}
    heads = fault_proxy.find_requests(method='HEAD')
    gets = fault_proxy.find_requests(method='GET')
    assert [r.params.get('versionId') for r in heads] == [
        [old['VersionId']]]
    assert sorted(r.range for r in gets) == [
        (0, MiB - 1), (MiB, 2 * MiB - 1), (2 * MiB, 3 * MiB - 1),
        (3 * MiB, 3 * MiB + 12344)]
    assert {r.params['versionId'][0] for r in gets} == {old['VersionId']}
    assert {r.headers['If-Match'] for r in gets} == {old['ETag']}


@pytest.mark.timeout(60)
def test_expected_size_saves_the_head_object(s3_client, bucket, fault_proxy,
                                             out):
    """The seed's ``test_download_file_expected_size`` and
    ``test_download_file``: with ``expected_size`` no HeadObject is made;
    without it, one."""
    s3_client.put_object(Bucket=bucket, Key='k', Body=b'my content')
    with library_downloader(fault_proxy.endpoint_url,
                            processes=1) as downloader:
        downloader.download_file(bucket, 'k', str(out / 'sized'),
                                 expected_size=10).result()
        assert fault_proxy.find_requests(method='HEAD') == []
        downloader.download_file(bucket, 'k', str(out / 'unsized')).result()
    assert len(fault_proxy.find_requests(method='HEAD')) == 1
    assert (out / 'sized').read_bytes() == b'my content'
    assert (out / 'unsized').read_bytes() == b'my content'


@pytest.mark.timeout(60)
def test_a_failed_get_raises_the_client_error_and_leaves_nothing(
        s3_server, bucket, out):
    """The seed's ``test_result_with_exception`` and
    ``test_cleans_up_tempfile_on_failure``: the GET of a missing key (size
    given, so no HeadObject) fails with botocore's ``ClientError``."""
    with library_downloader(s3_server.endpoint_url,
                            processes=1) as downloader:
        future = downloader.download_file(bucket, 'missing',
                                          str(out / 'missing'),
                                          expected_size=10)
        with pytest.raises(ClientError) as error:
            future.result()
    assert error.value.response['Error']['Code'] == 'NoSuchKey'
    assert future.done() is True
    assert files_under(out) == set()
    assert_no_temp_files(out)


def test_unknown_extra_args_are_a_value_error(out):
    """The seed's ``test_validates_extra_args``."""
    with library_downloader('http://127.0.0.1:9', processes=1) as downloader:
        with pytest.raises(ValueError) as error:
            downloader.download_file('b', 'k', str(out / 'k'),
                                     extra_args={'NotSupported': 'x'})
    assert str(error.value).startswith(
        "Invalid extra_args key 'NotSupported', must be one of: ")
    assert files_under(out) == set()


@pytest.mark.timeout(90)
@pytest.mark.parametrize('start_method', ['fork', 'forkserver', 'spawn'])
def test_sizes_from_the_first_get(start_method, s3_client, bucket,
                                  fault_proxy, out):
    """``size_from_first_get``: objects without ``expected_size`` are sized
    by their first GET, a range of the first part, with no HeadObject: a
    small one in that one GET, an empty one (which a range does not fit:
    a whole GET then), and a larger one whose other parts the worker
    queues, with ``IfMatch`` of that GET's ETag, under every start method.
    Each future's meta has the size, and the Last-Modified its GET
    reported."""
    big = os.urandom(3 * MiB + 12345)
    s3_client.put_object(Bucket=bucket, Key='small', Body=b'my content')
    s3_client.put_object(Bucket=bucket, Key='empty', Body=b'')
    etag = s3_client.put_object(Bucket=bucket, Key='big', Body=big)['ETag']
    with library_downloader(fault_proxy.endpoint_url, processes=2,
                            start_method=start_method,
                            size_from_first_get=True) as downloader:
        futures = {key: downloader.download_file(bucket, key, str(out / key))
                   for key in ('small', 'empty', 'big')}
        for future in futures.values():
            assert future.result() is None
    assert (out / 'small').read_bytes() == b'my content'
    assert (out / 'empty').read_bytes() == b''
    assert file_sha256(out / 'big') == sha256(big)
    assert files_under(out) == {'small', 'empty', 'big'}
    assert fault_proxy.find_requests(method='HEAD') == []
    assert [r.range for r in fault_proxy.find_requests(
        method='GET', key='small')] == [(0, MiB - 1)]
    # moto answers the empty object's range with 416, as S3 does.
    assert [r.range for r in fault_proxy.find_requests(
        method='GET', key='empty')] == [(0, MiB - 1), None]
    big_gets = fault_proxy.find_requests(method='GET', key='big')
    assert sorted(r.range for r in big_gets) == [
        (0, MiB - 1), (MiB, 2 * MiB - 1), (2 * MiB, 3 * MiB - 1),
        (3 * MiB, 3 * MiB + 12344)]
    assert sorted(r.headers.get('If-Match') or '' for r in big_gets) == [
        '', etag, etag, etag]
    assert {key: future.meta.size for key, future in futures.items()} == {
        'small': 10, 'empty': 0, 'big': len(big)}
    head = s3_client.head_object(Bucket=bucket, Key='small')
    assert futures['small'].meta.last_modified == (
        head['LastModified'].timestamp())


@pytest.mark.timeout(60)
def test_a_missing_key_sized_by_its_get_fails_with_its_404(
        s3_server, bucket, out):
    """Without a HeadObject, a missing key fails its first GET, with
    botocore's ``NoSuchKey``, and leaves nothing."""
    with library_downloader(s3_server.endpoint_url, processes=1,
                            size_from_first_get=True) as downloader:
        future = downloader.download_file(bucket, 'missing',
                                          str(out / 'missing'))
        with pytest.raises(ClientError) as error:
            future.result()
    assert error.value.response['Error']['Code'] == 'NoSuchKey'
    assert files_under(out) == set()
    assert_no_temp_files(out)
