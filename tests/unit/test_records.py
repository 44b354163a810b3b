"""ErrorSummary: exceptions reduced in a child and rebuilt in the parent."""
import awscli  # noqa: F401  (before botocore: selects the vendored copy)

import errno
import os
import pickle

import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from awscli_ppdl.records import (
    CollectedEvents,
    DownloadRequest,
    ErrorSummary,
    GetObjectJob,
    RemoteError,
    TransferOutcome,
)


def make_client():
    return botocore.session.get_session().create_client(
        's3', region_name='us-east-1', aws_access_key_id='a',
        aws_secret_access_key='b')


def roundtrip(summary):
    return pickle.loads(pickle.dumps(summary))


# -- ClientError -------------------------------------------------------------

def test_client_error_from_a_real_client_round_trips():
    client = make_client()
    with Stubber(client) as stubber:
        stubber.add_client_error(
            'get_object', service_error_code='NoSuchKey',
            service_message='The specified key does not exist.',
            http_status_code=404)
        with pytest.raises(ClientError) as info:
            client.get_object(Bucket='b', Key='k')
    original = info.value

    summary = roundtrip(ErrorSummary.from_exception(original))

    assert summary.type_name == 'NoSuchKey'
    assert summary.error_code == 'NoSuchKey'
    assert summary.message == 'The specified key does not exist.'
    assert summary.http_status == 404
    assert summary.operation_name == 'GetObject'
    rebuilt = summary.to_exception()
    assert isinstance(rebuilt, ClientError)
    assert str(rebuilt) == str(original)
    assert str(rebuilt) == (
        'An error occurred (NoSuchKey) when calling the GetObject operation: '
        'The specified key does not exist.')
    assert rebuilt.response['Error'] == {
        'Code': 'NoSuchKey', 'Message': 'The specified key does not exist.'}
    assert rebuilt.response['ResponseMetadata']['HTTPStatusCode'] == 404
    assert rebuilt.operation_name == 'GetObject'


def test_client_error_keeps_its_operation_name():
    original = ClientError(
        {'Error': {'Code': 'AccessDenied', 'Message': 'Access Denied'},
         'ResponseMetadata': {'HTTPStatusCode': 403}},
        'HeadObject')
    rebuilt = roundtrip(ErrorSummary.from_exception(original)).to_exception()
    assert str(rebuilt) == str(original)
    assert 'HeadObject' in str(rebuilt)


def test_client_error_after_exhausted_retries_keeps_the_retry_note():
    original = ClientError(
        {'Error': {'Code': 'SlowDown', 'Message': 'Please reduce your rate.'},
         'ResponseMetadata': {'HTTPStatusCode': 503,
                              'MaxAttemptsReached': True,
                              'RetryAttempts': 4}},
        'GetObject')
    assert '(reached max retries: 4)' in str(original)
    rebuilt = roundtrip(ErrorSummary.from_exception(original)).to_exception()
    assert str(rebuilt) == str(original)


def test_client_error_without_message_round_trips():
    original = ClientError(
        {'Error': {'Code': 'InternalError'},
         'ResponseMetadata': {'HTTPStatusCode': 500}},
        'GetObject')
    rebuilt = roundtrip(ErrorSummary.from_exception(original)).to_exception()
    assert str(rebuilt) == str(original)


# -- OSError -----------------------------------------------------------------

@pytest.mark.parametrize('exc_type, code', [
    (FileNotFoundError, errno.ENOENT),
    (PermissionError, errno.EACCES),
    (IsADirectoryError, errno.EISDIR),
])
def test_os_error_with_filename_rebuilds_the_same_subclass(
        tmp_path, exc_type, code):
    path = tmp_path / 'dir' / 'file.ppcp-tmp'
    original = exc_type(code, os.strerror(code), str(path))

    summary = roundtrip(ErrorSummary.from_exception(original))

    assert summary.type_name == exc_type.__name__
    assert summary.errno == code
    assert summary.filename == str(path)
    assert summary.message == os.strerror(code)
    assert summary.error_code is None
    rebuilt = summary.to_exception()
    assert type(rebuilt) is exc_type
    assert rebuilt.errno == code
    assert rebuilt.filename == str(path)
    assert str(rebuilt) == str(original)


def test_os_error_raised_by_the_os_round_trips(tmp_path):
    missing = tmp_path / 'missing' / 'x'
    with pytest.raises(FileNotFoundError) as info:
        os.open(str(missing), os.O_WRONLY)
    original = info.value
    rebuilt = roundtrip(ErrorSummary.from_exception(original)).to_exception()
    assert type(rebuilt) is FileNotFoundError
    assert str(rebuilt) == str(original)
    assert str(missing) in str(rebuilt)


def test_os_error_without_filename():
    original = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    summary = roundtrip(ErrorSummary.from_exception(original))
    assert summary.filename is None
    assert summary.describe_errno() == 'ENOSPC'
    rebuilt = summary.to_exception()
    assert rebuilt.errno == errno.ENOSPC
    assert rebuilt.filename is None
    assert str(rebuilt) == str(original)


def test_os_error_path_like_filename_is_stored_as_str(tmp_path):
    path = tmp_path / 'f'
    original = PermissionError(errno.EACCES, 'Permission denied', path)
    summary = ErrorSummary.from_exception(original)
    assert summary.filename == str(path)
    assert isinstance(summary.filename, str)
    rebuilt = summary.to_exception()
    assert type(rebuilt) is PermissionError
    assert str(rebuilt) == "[Errno 13] Permission denied: '%s'" % path


def test_os_error_without_errno_becomes_a_remote_error():
    original = OSError('something odd')
    summary = roundtrip(ErrorSummary.from_exception(original))
    assert summary.errno is None
    rebuilt = summary.to_exception()
    assert isinstance(rebuilt, RemoteError)
    assert rebuilt.type_name == 'OSError'
    assert str(rebuilt) == 'something odd'


# -- anything else -----------------------------------------------------------

def test_unpicklable_exception_becomes_a_remote_error_with_its_message():
    class LocalError(Exception):
        def __init__(self, message):
            super().__init__(message)
            self.callback = lambda: None

    original = LocalError('the disk said no')
    with pytest.raises(Exception):
        pickle.dumps(original)

    summary = ErrorSummary.from_exception(original)
    data = pickle.dumps(summary)
    summary = pickle.loads(data)

    assert summary.type_name == 'LocalError'
    assert summary.message == 'the disk said no'
    rebuilt = summary.to_exception()
    assert isinstance(rebuilt, RemoteError)
    assert rebuilt.type_name == 'LocalError'
    assert str(rebuilt) == 'the disk said no'


def test_rebuilt_remote_error_pickles():
    rebuilt = ErrorSummary('LocalError', 'the disk said no').to_exception()
    again = pickle.loads(pickle.dumps(rebuilt))
    assert type(again) is RemoteError
    assert again.type_name == 'LocalError'
    assert str(again) == 'the disk said no'


def test_remote_error_without_message_shows_its_type_name():
    summary = ErrorSummary.from_exception(ValueError())
    assert summary.message == ''
    rebuilt = summary.to_exception()
    assert isinstance(rebuilt, RemoteError)
    assert str(rebuilt) == 'ValueError'


def test_object_with_non_dict_response_attribute_is_not_a_client_error():
    class Odd(Exception):
        response = 'not a dict'

    summary = ErrorSummary.from_exception(Odd('odd'))
    assert summary.error_code is None
    assert summary.type_name == 'Odd'
    assert str(summary.to_exception()) == 'odd'


def test_every_record_pickles():
    records = [
        DownloadRequest(1, 'bucket', 'key', '/t/x.ppcp-tmp',
                        {'VersionId': 'v'}, 10, '"etag"'),
        GetObjectJob(1, 'bucket', 'key', '/t/x.ppcp-tmp',
                     {'Range': 'bytes=0-9'}, 0, 10, 0, 1),
        TransferOutcome(1, ErrorSummary('X', 'y', errno=5, filename='f'),
                        False, 10),
        CollectedEvents([TransferOutcome(2, None, True, 0)], [(2, 5)]),
    ]
    for record in records:
        assert pickle.loads(pickle.dumps(record)) == record
