"""The submitter process: turns download requests into GET jobs.

It plans each request (one GET below the multipart threshold, ranged GETs
carrying ``IfMatch`` at or above it) and queues the jobs; the workers
create the temp file when a GET's response arrives. It builds an S3 client
only if a request comes without a size (library use without
``expected_size``): the CLI always knows sizes from its listing, so no
HeadObject is made per file. A request without a size is sized by its
first GET instead of a HeadObject when the config says so (``sizing``:
``ppcp --files-from``, which lists nothing).
"""
import logging

from awscli_ppdl.checksums import (
    CRC_ALGORITHMS, full_object_checksum, verification_requested)
from awscli_ppdl.children import exit_child, prepare_child
from awscli_ppdl.records import (
    ALLOWED_DOWNLOAD_ARGS, SHUTDOWN, ErrorSummary, GetObjectJob)

logger = logging.getLogger(__name__)


class Submitter:
    def __init__(self, client_factory, transfer_config, request_queue,
                 job_queue, monitor, cancel_event):
        self._client_factory = client_factory
        self._config = transfer_config
        self._request_queue = request_queue
        self._job_queue = job_queue
        self._monitor = monitor
        self._cancel_event = cancel_event
        self._client = None

    def run(self):
        while True:
            request = self._request_queue.get()
            if request == SHUTDOWN:
                break
            if self._cancel_event.is_set():
                self._monitor.notify_request_failed(request.transfer_id, None)
                continue
            try:
                self._submit(request)
            except Exception as e:
                logger.debug('Could not plan %s', request, exc_info=True)
                self._monitor.notify_request_failed(
                    request.transfer_id, ErrorSummary.from_exception(e))
        self._job_queue.close()
        self._job_queue.join_thread()

    def _submit(self, request):
        head = None
        if request.byte_range is None and request.expected_size is None:
            if self._sized_by_first_get(request):
                self._job_queue.put(self._sizing_job(request))
                return
            head = self._head_object(request)
        jobs = self._plan(request, head)
        if len(jobs) > 1 and verification_requested(request.extra_args):
            # A whole-object GET is checked by botocore as it is read; the
            # parts of one are checked together, before the rename.
            checksum = full_object_checksum(
                head or self._head_object(request))
            if checksum is not None:
                self._monitor.expect_checksum(request.transfer_id, checksum)
                if checksum[0] in CRC_ALGORITHMS:
                    # Each part's CRC, computed as it arrives, is combined
                    # by the parent: no second read of the file.
                    jobs = [job._replace(part_crc=checksum[0])
                            for job in jobs]
        if request.kept_parts:
            jobs = self._report_kept(jobs, dict(request.kept_parts))
        if jobs:
            jobs[-1] = jobs[-1]._replace(
                more_to_come=self._more_to_come(request))
        for job in jobs:
            self._job_queue.put(job)

    def _report_kept(self, jobs, kept):
        """Report the parts an earlier run wrote as done (their bytes as
        progress: they are part of the file), with their CRCs where this
        run combines the same algorithm's; the jobs left to do.

        A kept part without its CRC leaves the transfer's CRCs incomplete:
        the parent then reads the file once to check it."""
        reports, left = [], []
        for job in jobs:
            if job.part_index not in kept:
                left.append(job)
                continue
            crc, part_crc = kept[job.part_index], None
            if (job.part_crc is not None and crc is not None
                    and crc[0] == job.part_crc):
                part_crc = (job.part_index, crc[1], job.length)
            reports.append((job.transfer_id, job.num_parts, job.length, None,
                            False, None, part_crc))
        self._monitor.notify_jobs_done(reports)
        return left

    def _more_to_come(self, request):
        """Whether other requests follow this one: queued already, or
        announced by the parent."""
        return request.more_to_come or not self._request_queue.empty()

    def _sized_by_first_get(self, request):
        """``size_from_first_get``, unless a checksum is to be verified:
        only a HeadObject (or a whole GET) reports it."""
        return (self._config.size_from_first_get
                and not verification_requested(request.extra_args))

    def _sizing_job(self, request):
        """The first GET of an object of unknown size (``sizing``): a
        range as long as the largest object fetched in one GET."""
        first = max(self._config.multipart_threshold,
                    self._config.multipart_chunksize)
        job = self._job(request, dict(request.extra_args,
                                      Range=f'bytes=0-{first - 1}'),
                        0, first, 0, 1)
        return job._replace(
            more_to_come=self._more_to_come(request),
            check_md5=self._config.check_etag_md5,
            rest_part_size=self._config.multipart_chunksize)

    def _plan(self, request, head):
        """The jobs of a request; ranged ones reserve the whole file.

        ``head`` is the HeadObject response when the request came without a
        size."""
        if request.byte_range is not None:
            start, length = request.byte_range
            return [self._ranged_job(request, request.etag, start, length,
                                     offset=0, index=0, num_parts=1,
                                     reserve=length)]
        size, etag = request.expected_size, request.etag
        if head is not None:
            size, etag = head['ContentLength'], head.get('ETag')
        if size < self._config.multipart_threshold:
            # The size S3 listed (or HEAD reported) is what the GET must
            # deliver, whatever its Content-Length says.
            job = self._job(request, request.extra_args, 0, size, 0, 1)
            return [job._replace(check_md5=self._config.check_etag_md5)]
        return list(self._ranged_jobs(request, size, etag))

    def _ranged_jobs(self, request, size, etag):
        part_size = self._config.part_size(size)
        num_parts = self._config.num_parts(size)
        for index in range(num_parts):
            start = index * part_size
            length = min(part_size, size - start)
            yield self._ranged_job(request, etag, start, length, offset=start,
                                   index=index, num_parts=num_parts,
                                   reserve=size)

    def _ranged_job(self, request, etag, start, length, offset, index,
                    num_parts, reserve):
        """A GET of ``length`` bytes from ``start``, written at ``offset``;
        ``IfMatch`` makes S3 refuse it if the object has changed since.
        Without ``ChecksumMode``: S3 returns no checksum for a range, so
        botocore would check nothing, and a plain GET goes direct (the
        parts are checked together, as the submitter plans)."""
        extra_args = {name: value
                      for name, value in request.extra_args.items()
                      if name != 'ChecksumMode'}
        extra_args['Range'] = f'bytes={start}-{start + length - 1}'
        if etag is not None:
            extra_args['IfMatch'] = etag
        return self._job(request, extra_args, offset, length, index,
                         num_parts, reserve)

    @staticmethod
    def _job(request, extra_args, offset, length, index, num_parts,
             reserve=None):
        return GetObjectJob(
            transfer_id=request.transfer_id, bucket=request.bucket,
            key=request.key, temp_filename=request.temp_filename,
            extra_args=extra_args, offset=offset, length=length,
            part_index=index, num_parts=num_parts, reserve=reserve,
            record_filename=request.record_filename,
        )

    def _head_object(self, request):
        if self._client is None:
            self._client = self._client_factory.create_client(
                self._monitor.current_credentials)
        return head_object(self._client, request.bucket, request.key,
                           request.extra_args)


def head_object(client, bucket, key, extra_args):
    """HeadObject with the download's own arguments (SSE-C key, version,
    requester pays, checksum mode...): the size, ETag and checksum it
    reports are those of what the GETs will fetch."""
    head_args = {k: v for k, v in extra_args.items()
                 if k in ALLOWED_DOWNLOAD_ARGS}
    return client.head_object(Bucket=bucket, Key=key, **head_args)


def run_submitter(client_factory, transfer_config, request_queue, job_queue,
                  monitor, cancel_event, child_logging=None):
    """Body of the submitter process (a module-level function: picklable)."""
    submitter = Submitter(client_factory, transfer_config, request_queue,
                          job_queue, monitor, cancel_event)
    prepare_child(child_logging=child_logging)
    submitter.run()
    exit_child(0)
