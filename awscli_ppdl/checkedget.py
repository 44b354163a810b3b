"""One job's GET, made again until its response is the bytes asked for.

A worker never trusts a response to be what it asked for: a ranged GET must
come back as that range with that length, a whole-object GET must deliver
its Content-Length, or the part is fetched again (whole); and that length
must be the size S3 reported for the object (listing or HEAD), or the
download fails. Only once a job's bytes pass these checks (and its MD5, if
checked) is the part recorded for a rerun (``resume``), or the rest of an
object its first GET sized queued (``sizing``).
"""
import hashlib
import logging
import os
import random
import time
from http.client import IncompleteRead
from typing import NamedTuple, Optional, Sequence

from botocore.exceptions import ClientError

from awscli_ppdl import checksums, resume, sizing
from awscli_ppdl.bodywriter import LocalWriteError
from awscli_ppdl.records import ObjectChangedError, ObjectSized

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# Backoff between attempts at a part whose body failed: full jitter,
# doubling from this base, capped (botocore retries the request itself).
RETRY_BASE_DELAY = 0.1
RETRY_MAX_DELAY = 2.0


class RetryableBodyError(Exception):
    """The response was not the requested bytes; the part is fetched again."""


class ObjectSizeError(Exception):
    """A whole-object GET announced another size than S3 reported for the
    object (listing or HEAD): its body would make a short or long file.
    Not retried: a replaced object or a rewriting middlebox would answer
    the same again."""


class Fetched(NamedTuple):
    """What the worker reports of a job besides its outcome; a job not
    fetched (skipped, cancelled, failed) reports ``Fetched(0)``."""

    received: int
    # (part index, CRC, length), for the parent to combine with the other
    # parts' (``checksums``); None where no CRC was asked for.
    part_crc: Optional[tuple] = None
    # What a first GET (``sizing``) learned of its object, and the GETs
    # still to make, which its worker queues: the object's parts are then
    # one more than these.
    sized: Optional[ObjectSized] = None
    rest: Sequence = ()


def _retryable_errors():
    from s3transfer.utils import S3_RETRYABLE_DOWNLOAD_ERRORS

    return S3_RETRYABLE_DOWNLOAD_ERRORS + (RetryableBodyError, IncompleteRead)


def _retries_exceeded(last_error):
    """What ``aws s3 cp`` reports when a body keeps failing to arrive:
    s3transfer's ``RetriesExceededError`` ("Max Retries Exceeded"); the
    cause is in the ``--debug`` log. A body that arrived but was not what
    was asked for (``RetryableBodyError``) keeps its own message, which
    says what was wrong."""
    from s3transfer.exceptions import RetriesExceededError

    return RetriesExceededError(last_error)


class CheckedGet:
    """The GETs of one thread's jobs: one per thread, as its writer's
    buffer is.

    :param sender: the process's ``GetObjectSender``, which its threads
        share.
    :param temp_files: the process's ``fileio.TempFileRegistry``.
    :param writer: the thread's ``BodyWriter``.
    """

    def __init__(self, sender, temp_files, writer):
        self._sender = sender
        self._temp_files = temp_files
        self._writer = writer
        self._retryable = _retryable_errors()

    def fetch(self, job, progress):
        """The job's bytes, written and checked: ``Fetched``. ``progress``
        (the job's ``worker._ProgressReporter``) counts them as they are
        written, and takes back those of an attempt that failed."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return self._download(job, progress)
            except LocalWriteError as e:
                raise e.__cause__
            except self._retryable as e:
                progress.discard_attempt()
                if attempt == MAX_ATTEMPTS:
                    if isinstance(e, RetryableBodyError):
                        raise
                    raise _retries_exceeded(e) from e
                logger.debug('Retrying %s after: %r', job, e)
                time.sleep(random.uniform(0, min(
                    RETRY_MAX_DELAY, RETRY_BASE_DELAY * 2 ** attempt)))
            except ClientError as e:
                if (job.rest_part_size is not None and 'Range' in job.extra_args
                        and _is_range_not_satisfiable(e)):
                    # S3's answer to a range of an empty object: its
                    # whole GET tells the rest (size, ETag, Last-Modified).
                    job = job._replace(extra_args={
                        name: value for name, value in job.extra_args.items()
                        if name != 'Range'})
                    continue
                if _is_precondition_failure(e) and 'IfMatch' in job.extra_args:
                    raise ObjectChangedError(
                        f's3://{job.bucket}/{job.key} changed during the '
                        'download (its ETag is no longer '
                        f'{job.extra_args["IfMatch"]}); the file was not '
                        'written.') from e
                raise

    def _download(self, job, progress):
        body = self._sender.get_object(job.bucket, job.key, job.extra_args)
        complete = False
        try:
            if job.rest_part_size is not None:
                expected, size = self._first_part_length(job, body)
                whole_object = expected == size
            else:
                expected = self._expected_length(job, body)
                whole_object = ('Range' not in job.extra_args
                                and body.content_range is None)
            # Created now that its bytes arrive, not when it was queued.
            try:
                fd = self._temp_files.open(
                    job.temp_filename, job.reserve,
                    remember=job.record_filename is None)
            except OSError as e:
                raise LocalWriteError() from e
            md5 = crc = None
            if _md5_checked(job, body, whole_object):
                md5 = hashlib.md5(usedforsecurity=False)
            if job.part_crc is not None:
                crc = checksums.PartCrc(job.part_crc)
            try:
                received = self._writer.copy(
                    body, fd, job.offset, expected,
                    [digest for digest in (md5, crc) if digest is not None],
                    progress)
            finally:
                os.close(fd)
            complete = received == expected
        finally:
            body.release(complete)
        if not complete:
            raise RetryableBodyError(
                f'Expected {expected} bytes from s3://{job.bucket}/{job.key} '
                f'at offset {job.offset}, received {received}.')
        if md5 is not None and md5.hexdigest() != body.etag_md5:
            # Not retried, as botocore's FlexibleChecksumError is not.
            raise checksums.md5_mismatch(job.bucket, job.key, body.etag_md5,
                                         md5.hexdigest())
        part_crc = None
        if crc is not None:
            part_crc = (job.part_index, crc.value, received)
        if job.record_filename is not None:
            resume.record_part(job.record_filename, job.part_index,
                               None if crc is None
                               else (job.part_crc, crc.value))
        if job.rest_part_size is None:
            return Fetched(received, part_crc)
        return Fetched(received, part_crc, ObjectSized(
            size, sizing.http_date_seconds(body.last_modified)),
                       sizing.rest_of(job, size, received, body.etag))

    @staticmethod
    def _first_part_length(job, body):
        """``(length, object size)`` of a first GET (``sizing``): the
        range asked for, as long as the object allows, or the whole
        object."""
        sized = sizing.first_part(job, body.content_range,
                                  body.content_length)
        if sized is None:
            raise RetryableBodyError(
                f'Asked for bytes 0-{job.length - 1} of s3://{job.bucket}/'
                f'{job.key}, got Content-Range {body.content_range!r} with '
                f'{body.content_length} bytes.')
        return sized

    @staticmethod
    def _expected_length(job, body):
        length = body.content_length
        if job.length is None:
            return length
        if 'Range' not in job.extra_args:
            if length != job.length:
                raise ObjectSizeError(
                    f's3://{job.bucket}/{job.key} has {job.length} bytes, '
                    f'but its GET announced {length}; the file was not '
                    'written.')
            return length
        start = int(job.extra_args['Range'][len('bytes='):].split('-')[0])
        end = start + job.length - 1
        content_range = body.content_range or ''
        if (not content_range.startswith(f'bytes {start}-{end}/')
                or length != job.length):
            raise RetryableBodyError(
                f'Asked for bytes {start}-{end} of s3://{job.bucket}/'
                f'{job.key}, got Content-Range {content_range!r} with '
                f'{length} bytes.')
        return length


def _md5_checked(job, body, whole_object):
    """Whether the body's MD5 is checked against its ETag: only a whole
    object's, fetched in one GET (``whole_object``: without a range, or a
    first GET whose range covered the object), when the submitter asked
    for it (``check_md5``) and the ETag is its bytes' MD5
    (``checksums.etag_md5``: no multipart upload, SSE-KMS or SSE-C). An
    SSE-C object is also told by the GET's own SSE-C key (S3 refuses one
    for an object stored without), where a server (moto) does not echo
    the algorithm in its response. Nor where botocore checks the body
    against a checksum S3 stored for the whole object (S3 stores a CRC64NVME
    of every object uploaded since December 2024): that proves the same
    bytes, for a tenth of the MD5's CPU."""
    return (job.check_md5 and body.etag_md5 is not None and whole_object
            and not body.checksum_checked
            and 'SSECustomerKey' not in job.extra_args)


def _is_range_not_satisfiable(error):
    response = error.response or {}
    return (response.get('Error', {}).get('Code') == 'InvalidRange'
            or response.get('ResponseMetadata', {}).get(
                'HTTPStatusCode') == 416)


def _is_precondition_failure(error):
    response = error.response or {}
    code = str(response.get('Error', {}).get('Code', ''))
    status = response.get('ResponseMetadata', {}).get('HTTPStatusCode')
    return code == 'PreconditionFailed' or status == 412
