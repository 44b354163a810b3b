"""The worker process: performs GET jobs and writes the bytes at their offset.

Each of its threads makes one GET at a time (``run_worker``). A worker never
trusts a response to be what it asked for: a ranged GET must come back as
that range with that length, a whole-object GET must deliver its
Content-Length, or the part is fetched again (whole); and that length must
be the size S3 reported for the object (listing or HEAD), or the download
fails. It reports each job to the monitor exactly once, success or failure;
reports of jobs done back to back travel together, in one round trip.
"""
import hashlib
import logging
import os
import queue
import random
import threading
import time
from http.client import IncompleteRead

from botocore.exceptions import ClientError

from awscli_ppdl import checksums, fileio, resume, sizing, splicing
from awscli_ppdl.getobject import GetObjectSender
from awscli_ppdl.children import exit_child, prepare_child
from awscli_ppdl.credentials import signing_credentials
from awscli_ppdl.records import (
    SHUTDOWN, ErrorSummary, ObjectChangedError, ObjectSized)

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# Bytes received before each pwrite: one reused buffer per thread, filled
# straight from the socket, written with one system call per 256 KiB. Every
# body takes this way: receiving parts straight into a mapping of the file
# instead (one copy fewer) cost more here, in page faults and the zeroing of
# each page before its bytes land (*Parts are written with pwrite* in
# benchmarks/where-the-time-goes.md).
BUFFER_SIZE = 256 * 1024
# A GET of at least this many bytes (or of a length not known in advance)
# is large: it takes one of its process's large-GET slots, so fewer of them
# are in flight than small ones. A small GET mostly waits for its first
# byte, and more of them keep a link with latency busy; a large one moves
# bytes for most of its time, so more of them only share the same CPUs
# and bandwidth (*Requests by size* in benchmarks/where-the-time-goes.md).
LARGE_GET_BYTES = 1024 * 1024
# How often a worker tells the monitor how far a part has come: a few
# messages a second, however fast the bytes arrive.
PROGRESS_INTERVAL = 0.25
# A worker reports finished jobs of small whole objects to the monitor in
# batches of up to REPORT_BATCH (one round trip instead of one per tiny
# object) while the next job comes within REPORT_DELAY seconds, and never
# holds a report longer than REPORT_MAX_AGE, whatever job it is doing
# meanwhile; other reports, and those of a job queued with nothing more to
# come, go at once (``_batched``): no result waits for these delays.
REPORT_BATCH = 32
REPORT_DELAY = 0.05
REPORT_MAX_AGE = 0.25
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


class LocalWriteError(Exception):
    """Writing the temp file failed (disk full, file too large): fetching
    the part again would not help, so it escapes the retries with its
    ``OSError`` as the cause."""


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


class Worker:
    """One GET at a time; a worker process runs one per thread.

    :param reports: the process's ``ReportBatches``, which its workers
        share; None: each job is reported in a round trip of its own.
    :param temp_files: the process's ``TempFileRegistry`` (its workers
        share it), which removes the temp files it opened if the parent
        dies; None: one of the worker's own.
    :param large_slots: the process's semaphore of large GETs in flight
        (its workers share it); None: one of the worker's own.
    :param splicers: the process's ``splicing.SplicerPool`` (as many as
        its large GETs in flight); None: a pool of one of the worker's own.
    """

    def __init__(self, sender, monitor, cancel_event, reports=None,
                 temp_files=None, large_slots=None, splicers=None):
        self._sender = sender
        self._large_slots = (threading.Semaphore(1) if large_slots is None
                             else large_slots)
        self._splicers = (splicing.SplicerPool(1) if splicers is None
                          else splicers)
        self._temp_files = (fileio.TempFileRegistry() if temp_files is None
                            else temp_files)
        self._monitor = monitor
        self._cancel_event = cancel_event
        self._retryable = _retryable_errors()
        self._buffer = memoryview(bytearray(BUFFER_SIZE))
        self._progress = None
        self._part_crc = None
        self._reports = reports
        self._more_to_come = True
        # What the job in hand's first GET learned of its object
        # (``sizing``): (ObjectSized, the GETs still to make).
        self._sized = None

    def run(self, job_queue):
        while True:
            # A job's size is known only once it is taken, so a thread
            # takes one only with a large-GET slot in hand, and gives the
            # slot back at once for a small job: no thread sits on a taken
            # job waiting for a slot, while another worker with one free
            # could have done it.
            self._take_large_slot()
            job = self._next_job(job_queue)
            keeps_slot = job != SHUTDOWN and _is_large(job)
            if not keeps_slot:
                self._large_slots.release()
            if job == SHUTDOWN:
                if self._reports is not None:
                    self._reports.flush()
                return
            self._more_to_come = _batched(job)
            try:
                for rest in self.run_job(job):
                    self._queue_or_run(job_queue, rest)
            finally:
                if keeps_slot:
                    self._large_slots.release()

    def _queue_or_run(self, job_queue, job):
        """Queue a part after a first GET (``sizing``); with the queue
        full, do it here: a worker waiting for room, while the others
        may be waiting likewise, could wait for ever."""
        try:
            job_queue.put_nowait(job)
        except queue.Full:
            for rest in self.run_job(job):
                self._queue_or_run(job_queue, rest)

    def _take_large_slot(self):
        """A large-GET slot, with ``_next_job``'s rule for the reports held
        meanwhile: they wait for it only while it comes at once.

        The slots are fewer than the threads, and the threads idle on the
        job queue hold them: a thread that has just finished the only job
        of a one-file download waits here until a job or SHUTDOWN moves
        them, and the report of a complete file must not wait with it
        (nor for the batch's REPORT_MAX_AGE, the sender thread's safety
        net): that was the ~0.25 s a one-object ``ppcp`` spent before its
        file appeared."""
        if self._large_slots.acquire(blocking=False):
            return
        if self._reports is not None and self._reports.pending():
            if self._more_to_come and self._large_slots.acquire(
                    timeout=REPORT_DELAY):
                return
            self._reports.flush()
        self._large_slots.acquire()

    def _next_job(self, job_queue):
        """The next job; reports wait for it only while it comes at once,
        and not at all after a job whose report is not batched
        (``_batched``: a part, a large object, or a small one queued with
        nothing more to come)."""
        if self._reports is not None and self._reports.pending():
            if self._more_to_come:
                try:
                    return job_queue.get(timeout=REPORT_DELAY)
                except queue.Empty:
                    pass
            self._reports.flush()
        return job_queue.get()

    def run_job(self, job):
        """Do a job and report it; returns the GETs that must follow it
        (the rest of an object its first GET sized, ``sizing``)."""
        nbytes, error, cancelled = 0, None, False
        self._part_crc = None
        self._sized = None
        self._progress = _ProgressReporter(self._monitor, job.transfer_id)
        if self._cancel_event.is_set():
            cancelled = True
        elif self._should_run(job):
            try:
                nbytes = self._download_with_retries(job)
            except Exception as e:
                logger.debug('Job %s failed', job, exc_info=True)
                error = ErrorSummary.from_exception(e)
        num_parts, sized, rest = job.num_parts, None, []
        if error is None and self._sized is not None:
            sized, rest = self._sized
            num_parts = 1 + len(rest)
        report = (job.transfer_id, num_parts, nbytes, error, cancelled,
                  self._progress.remainder(nbytes),
                  None if error is not None else self._part_crc, sized)
        if self._reports is not None:
            self._reports.add(report)
        else:
            self._monitor.notify_job_done(*report)
        return rest

    def _should_run(self, job):
        """A range of a transfer that failed or was cancelled (a part, or a
        stream's range) is not worth a GET. A whole-object GET is not asked
        about: it is one small job, and the round trip would cost more than
        the rare GET it saves."""
        return ('Range' not in job.extra_args
                or self._monitor.should_run(job.transfer_id))

    def _download_with_retries(self, job):
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return self._download(job)
            except LocalWriteError as e:
                raise e.__cause__
            except self._retryable as e:
                self._progress.discard_attempt()
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

    def _download(self, job):
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
                received = self._copy_body(
                    body, fd, job.offset, expected,
                    [digest for digest in (md5, crc) if digest is not None])
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
        if crc is not None:
            self._part_crc = (job.part_index, crc.value, received)
        if job.record_filename is not None:
            resume.record_part(job.record_filename, job.part_index,
                               None if crc is None
                               else (job.part_crc, crc.value))
        if job.rest_part_size is not None:
            self._sized = (ObjectSized(
                size, sizing.http_date_seconds(body.last_modified)),
                           sizing.rest_of(job, size, received, body.etag))
        return received

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

    def _copy_body(self, body, fd, offset, expected, digests=()):
        """Fill the buffer from the socket, write it at its offset, repeat;
        ``digests`` (objects with ``update``: an MD5, a part's CRC) see the
        bytes as they pass. A large body that no digest needs to see is
        spliced into the file where it can be (``splicing``), the rest of
        it read here if splicing stops short; a small one mostly came with
        its response's head, already in memory, where one ``pwrite`` is
        cheaper than a write into the pipe and a splice out of it."""
        received = 0
        if (body.splice_to is not None and not digests
                and expected >= LARGE_GET_BYTES):
            with self._splicers.borrowed() as splicer:
                if splicer is not None:
                    received, unwritten = splicer.copy(
                        body.splice_to, fd, offset, self._progress.add)
                    if unwritten is None:
                        return received
                    if unwritten:
                        self._write(fd, unwritten, offset + received)
                        received += len(unwritten)
        buffer = self._buffer
        while True:
            filled = _fill(body.readinto, buffer)
            if filled:
                for digest in digests:
                    digest.update(buffer[:filled])
                self._write(fd, buffer[:filled], offset + received)
                received += filled
            if filled < len(buffer) or received > expected:
                return received

    def _write(self, fd, data, offset):
        """``pwrite_all``, whose failure is the file's (``LocalWriteError``:
        not retried), not the GET's."""
        try:
            fileio.pwrite_all(fd, data, offset)
        except OSError as e:
            raise LocalWriteError() from e
        self._progress.add(len(data))


def _batched(job):
    """Whether the job's report may wait for the next job to travel with
    it: only a small whole object's, and only while the submitter had more
    in hand. Batches save round trips for many tiny objects; beside a
    part's or a large object's bytes, one round trip is nothing, and a
    part's report is on the way of its file's result: the part that
    completes a file is whichever finishes last, not the one queued with
    nothing more to come (a stream's ranges alike), and its report would
    otherwise wait for REPORT_DELAY. The first GET of an object of unknown
    size (``sizing``) is batched as a small object's: most are, and a
    larger one's file completes with a later part."""
    return (job.more_to_come and job.num_parts == 1
            and ((job.length or 0) < LARGE_GET_BYTES
                 or job.rest_part_size is not None))


def _md5_checked(job, body, whole_object):
    """Whether the body's MD5 is checked against its ETag: only a whole
    object's, fetched in one GET (``whole_object``: without a range, or a
    first GET whose range covered the object), when the submitter asked
    for it (``check_md5``) and the ETag is its bytes' MD5
    (``checksums.etag_md5``: no multipart upload, SSE-KMS or SSE-C). An
    SSE-C object is also told by the GET's own SSE-C key (S3 refuses one
    for an object stored without), where a server (moto) does not echo
    the algorithm in its response."""
    return (job.check_md5 and body.etag_md5 is not None and whole_object
            and 'SSECustomerKey' not in job.extra_args)


def _is_large(job):
    """Whether the job takes a large-GET slot. The first GET of an
    object of unknown size (``sizing``) does not, though its range is a
    part's: a list of keys is mostly of small objects, each that one GET,
    which would otherwise be held to the large GETs' share."""
    if job.rest_part_size is not None:
        return False
    return job.length is None or job.length >= LARGE_GET_BYTES


def _fill(readinto, view):
    """Read into ``view`` until it is full or the body ends."""
    filled, size = 0, len(view)
    while filled < size:
        count = readinto(view[filled:])
        if not count:
            break
        filled += count
    return filled


class ReportBatches:
    """Reports of finished jobs on their way to the monitor, in batches.

    A worker sends a batch when it is full or when no job follows at once;
    a thread of its own sends one that reaches REPORT_MAX_AGE first: the
    worker may be in the middle of a long or stalled GET by then, and the
    file whose report waits is complete (its temp file would be removed,
    not renamed, if the pool broke meanwhile).
    """

    def __init__(self, monitor):
        self._monitor = monitor
        self._changed = threading.Condition()
        self._reports = []
        self._first_added = None
        self._closed = False
        self._sender = threading.Thread(
            target=self._send_when_due, name='ppcp-reports', daemon=True)
        self._sender.start()

    def add(self, report):
        with self._changed:
            if not self._reports:
                self._first_added = time.monotonic()
                self._changed.notify()
            self._reports.append(report)
            full = len(self._reports) >= REPORT_BATCH
        if full:
            self.flush()

    def pending(self):
        return len(self._reports)

    def flush(self):
        self._send(self._take())

    def close(self):
        """Send what is left; the process is about to exit."""
        with self._changed:
            self._closed = True
            self._changed.notify()
        self._sender.join()
        self.flush()

    def _take(self):
        with self._changed:
            reports, self._reports = self._reports, []
        return reports

    def _send(self, reports):
        if reports:
            self._monitor.notify_jobs_done(reports)

    def _send_when_due(self):
        while self._wait_until_due():
            try:
                self.flush()
            except Exception:
                # The monitor is gone: the parent sees it die and stops the
                # downloads; this thread has nothing left to do.
                logger.debug('Could not send job reports', exc_info=True)
                return

    def _wait_until_due(self):
        """Until the oldest report is REPORT_MAX_AGE old; False once closed."""
        with self._changed:
            while not self._closed:
                if not self._reports:
                    self._changed.wait()
                    continue
                due = self._first_added + REPORT_MAX_AGE - time.monotonic()
                if due <= 0:
                    return True
                self._changed.wait(due)
            return False


class _ProgressReporter:
    """Byte counts of one job for the monitor, a few times a second.

    Bytes of an attempt that failed are taken back (negative progress, as
    s3transfer does when it retries a GET), so the total never overshoots.
    """

    def __init__(self, monitor, transfer_id):
        self._monitor = monitor
        self._transfer_id = transfer_id
        self._reported = 0
        self._unreported = 0
        self._attempt_bytes = 0
        self._next_report = time.monotonic() + PROGRESS_INTERVAL

    def add(self, nbytes):
        self._unreported += nbytes
        self._attempt_bytes += nbytes
        now = time.monotonic()
        if now >= self._next_report:
            self._monitor.notify_progress(self._transfer_id, self._unreported)
            self._reported += self._unreported
            self._unreported = 0
            self._next_report = now + PROGRESS_INTERVAL

    def discard_attempt(self):
        self._unreported -= self._attempt_bytes
        self._attempt_bytes = 0

    def remainder(self, nbytes_kept):
        """What the final report must add so the total is ``nbytes_kept``."""
        return nbytes_kept - self._reported


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


def run_worker(client_factory, http_settings, job_queue, monitor,
               cancel_event, requests=1, large_requests=None,
               child_logging=None):
    """Body of a worker process (a module-level function: picklable).

    :param http_settings: the ``HttpSessionSettings`` of the parent's client,
        when the parent publishes GetObject templates (it does when it has
        credentials to hand the workers); None: every GET goes through the
        worker's botocore client.
    :param requests: how many GETs the process makes at once, one thread
        each, sharing its sender (one connection pool, at most one botocore
        client) and its report batches. The bytes move with the GIL
        released (the socket's copy into the buffer, and the buffer's into
        the file, are the kernel's), so threads are the cheap way to keep
        requests in flight, and processes the way to use every CPU.
    :param large_requests: how many of those GETs may be large ones
        (``LARGE_GET_BYTES``) at once; None: all of them.
    """
    temp_files = fileio.TempFileRegistry()
    prepare_child(on_parent_death=temp_files.remove_all,
                  child_logging=child_logging)
    if http_settings is not None:
        http_settings = http_settings.with_room_for(requests)
    sender = _get_object_sender(client_factory, http_settings, monitor)
    reports = ReportBatches(monitor)
    large = requests if large_requests is None else large_requests
    large_slots = threading.Semaphore(large)
    splicers = splicing.SplicerPool(large)
    threads = [
        threading.Thread(
            target=_exit_if_it_fails,
            args=(Worker(sender, monitor, cancel_event, reports,
                         temp_files, large_slots, splicers).run, job_queue),
            name=f'ppcp-get-{number}', daemon=True)
        for number in range(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reports.close()
    exit_child(0)


def _exit_if_it_fails(run, job_queue):
    """A thread that cannot go on ends its process, as an exception in a
    one-thread worker would: the parent sees the worker die (and says so)
    instead of waiting for the job that thread held."""
    try:
        run(job_queue)
    except BaseException:
        logger.debug('%s failed', threading.current_thread().name,
                     exc_info=True)
        exit_child(1)


def _get_object_sender(client_factory, http_settings, monitor):
    def create_client():
        return client_factory.create_client(monitor.current_credentials)

    if http_settings is None:
        return GetObjectSender(create_client)
    return GetObjectSender(
        create_client, find_template=monitor.template,
        credentials=signing_credentials(client_factory.credentials,
                                        monitor.current_credentials),
        http_settings=http_settings)
