"""The small values that cross process boundaries.

Everything a queue or the monitor carries is one of these: plain tuples of
str/int/bytes/dict, so they pickle cheaply and identically under ``fork``,
``forkserver`` and ``spawn``. No botocore object, client, response or exception
instance ever crosses; exceptions travel as an ``ErrorSummary`` and are rebuilt
on the parent's side.
"""
import errno as errno_module
from typing import NamedTuple, Optional

SHUTDOWN = 'SHUTDOWN'
# The GetObject arguments a download may carry (``extra_args``); the
# HeadObject made for a download takes the same ones, so that the size, ETag
# and checksum it reports are those of what the GETs will fetch.
ALLOWED_DOWNLOAD_ARGS = (
    'ChecksumMode', 'VersionId', 'SSECustomerAlgorithm', 'SSECustomerKey',
    'SSECustomerKeyMD5', 'RequestPayer', 'ExpectedBucketOwner',
)


class DownloadRequest(NamedTuple):
    """One object to download, sent from the parent to the submitter."""

    transfer_id: int
    bucket: str
    key: str
    temp_filename: str
    extra_args: dict
    expected_size: Optional[int]
    etag: Optional[str]
    # (first byte, length): fetch only this range, into a file of that size.
    byte_range: Optional[tuple] = None
    # A resumable download (``resume``): the record its workers list each
    # written part in, and the parts an earlier run left, as
    # ``((index, (algorithm, crc) or None), ...)``, which are not fetched.
    record_filename: Optional[str] = None
    kept_parts: tuple = ()
    # The parent has more to submit after it (it was told many files are
    # coming: a listing being downloaded), whether or not the next request
    # is in the queue yet: its jobs' reports may wait to travel together
    # until the parent waits for them (``worker.ReportBatches``).
    more_to_come: bool = False


class GetObjectJob(NamedTuple):
    """One GET (whole object or one range) for a worker to write at ``offset``.

    ``length`` is what the worker must receive: a short or long body is an
    error, never a silently wrong file. ``num_parts`` lets the monitor tell
    when a transfer is complete without a separate "expect N jobs" round trip.
    ``more_to_come`` is False when the submitter queued this job with no
    other work in hand and no word from the parent that more is coming (a
    one-file download's only job): the worker that does it reports at once
    instead of holding the report for a batch. ``reserve`` is the whole
    file's size when it is known (ranged GETs): the worker that opens the
    temp file reserves it.
    """

    transfer_id: int
    bucket: str
    key: str
    temp_filename: str
    extra_args: dict
    offset: int
    length: Optional[int]
    part_index: int
    num_parts: int
    more_to_come: bool = True
    reserve: Optional[int] = None
    # A whole-object GET whose bytes the worker checks against an MD5 ETag
    # (``checkedget._md5_checked``).
    check_md5: bool = False
    # The CRC algorithm of the object's full-object checksum: the worker
    # computes its part's CRC as the bytes arrive and reports it with the
    # job, for the parent to combine (``checksums.verify_part_crcs``).
    part_crc: Optional[str] = None
    # The record to append this part to once its bytes are written
    # (``resume.record_part``); None: the download is not resumable.
    record_filename: Optional[str] = None
    # The first GET of an object of unknown size (``sizing``): a range of
    # at most ``length`` bytes from 0, whose Content-Range tells the size;
    # the worker queues the rest in ranged GETs of this many bytes.
    rest_part_size: Optional[int] = None


class ErrorSummary(NamedTuple):
    """An exception reduced to what the parent needs to rebuild and print it."""

    type_name: str
    message: Optional[str]
    error_code: Optional[str] = None
    http_status: Optional[int] = None
    operation_name: Optional[str] = None
    errno: Optional[int] = None
    filename: Optional[str] = None
    # botocore's retry note: '(reached max retries: N)' names the cause of a
    # lasting fault as precisely in the parent as in the child.
    retry_attempts: Optional[int] = None
    max_attempts_reached: bool = False

    @classmethod
    def from_exception(cls, exc):
        """Never raises: an exception that cannot even be described must
        still fail only its own transfer, not the process reporting it."""
        try:
            return cls._describe(exc)
        except Exception:
            return cls(type_name=type(exc).__name__,
                       message='(the error could not be described)')

    @classmethod
    def _describe(cls, exc):
        response = getattr(exc, 'response', None)
        if isinstance(response, dict) and 'Error' in response:
            error = response.get('Error') or {}
            metadata = response.get('ResponseMetadata') or {}
            message = error.get('Message')
            return cls(
                type_name=type(exc).__name__,
                message=None if message is None else str(message),
                error_code=str(error.get('Code') or ''),
                http_status=metadata.get('HTTPStatusCode'),
                operation_name=getattr(exc, 'operation_name', None),
                retry_attempts=metadata.get('RetryAttempts'),
                max_attempts_reached=bool(
                    metadata.get('MaxAttemptsReached')),
            )
        if isinstance(exc, OSError) and exc.errno is not None:
            return cls(
                type_name=type(exc).__name__,
                message=exc.strerror or str(exc),
                errno=exc.errno,
                filename=None if exc.filename is None else str(exc.filename),
            )
        return cls(type_name=type(exc).__name__, message=str(exc))

    def to_exception(self):
        """Rebuild an exception whose ``str()`` reads like the original's."""
        if self.error_code is not None:
            from botocore.exceptions import ClientError

            error = {'Code': self.error_code}
            if self.message is not None:
                error['Message'] = self.message
            metadata = {'HTTPStatusCode': self.http_status}
            if self.retry_attempts is not None:
                metadata['RetryAttempts'] = self.retry_attempts
            if self.max_attempts_reached:
                metadata['MaxAttemptsReached'] = True
            return ClientError({'Error': error, 'ResponseMetadata': metadata},
                               self.operation_name or 'GetObject')
        if self.errno is not None:
            if self.filename is None:
                return OSError(self.errno, self.message)
            return OSError(self.errno, self.message, self.filename)
        if self.type_name == ObjectChangedError.__name__:
            return ObjectChangedError(self.message)
        return RemoteError(self.type_name, self.message)

    def describe_errno(self):
        return errno_module.errorcode.get(self.errno, str(self.errno))


class ObjectChangedError(Exception):
    """The object was replaced during a ranged download (its ``IfMatch``
    ETag failed): raised in a worker, rebuilt as such in the parent, where
    a stream tells it apart from other failures."""


class RemoteError(Exception):
    """An exception raised in a child whose type is not rebuilt as such."""

    def __init__(self, type_name, message):
        super().__init__(message or type_name)
        self.type_name = type_name
        self._message = message

    def __reduce__(self):
        return RemoteError, (self.type_name, self._message)


class TransferOutcome(NamedTuple):
    """How a transfer ended, as the monitor hands it to the parent.

    ``bytes_written`` is what the workers wrote: the temp file must be exactly
    that long before it is renamed into place.
    """

    transfer_id: int
    error: Optional[ErrorSummary]
    cancelled: bool
    bytes_written: int
    # (algorithm, base64 value) the assembled file must match, if known.
    checksum: Optional[tuple] = None
    # ((crc, length) of each part, in order) when every part reported its
    # CRC: the checksum is checked from them, without reading the file.
    part_crcs: Optional[tuple] = None


class CollectedEvents(NamedTuple):
    """What the parent takes from the monitor in one round trip."""

    outcomes: list
    progress: list  # [(transfer_id, bytes_since_last_collect)]
    # [(transfer_id, ObjectSized)] of objects sized by their first GET.
    sized: tuple = ()


class ObjectSized(NamedTuple):
    """What a first GET learned of an object of unknown size
    (``sizing``), for the parent: its size (the progress total) and its
    Last-Modified (POSIX seconds, or None), which ``aws s3 cp`` gives the
    downloaded file."""

    size: int
    last_modified: Optional[float]
