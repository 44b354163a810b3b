"""``ProcessTransferConfig``: what the parent decides and the submitter
plans with (it crosses to the submitter, so this module stays light)."""
from s3transfer.utils import MAX_PARTS

MB = 1024 * 1024


class ProcessTransferConfig:
    def __init__(self, multipart_threshold=8 * MB, multipart_chunksize=8 * MB,
                 max_request_processes=10, start_method=None,
                 max_concurrent_requests=None, max_queue_size=1000,
                 max_concurrent_large_requests=None, check_etag_md5=True,
                 size_from_first_get=False, resume=True):
        """Configuration for the ProcessPoolDownloader.

        :param multipart_threshold: objects of this size or larger are fetched
            as ranged GETs of ``multipart_chunksize`` bytes, or larger ones
            for an object that would otherwise have more than ``MAX_PARTS``
            (10,000, S3's most parts of an upload) parts.
        :param max_request_processes: the most worker processes making GETs
            at once, and never more than ``max_concurrent_requests``; fewer
            are started when there are fewer jobs.
        :param start_method: ``fork``, ``forkserver`` or ``spawn`` for
            every child; None forks the first children (cheapest start-up)
            and starts further workers from a lean fork server, where the
            platform has both (``startmethods``), and uses the platform
            default elsewhere.
        :param max_concurrent_requests: the GETs in flight in all the
            workers together; each worker makes its share of them at once,
            one per thread (at least one). None: one per worker, as in
            s3transfer's process pool. Processes are what the CPUs run in
            parallel, requests what keeps a link busy while each waits for
            its server: more processes than CPUs only compete for them.
        :param max_concurrent_large_requests: how many of those GETs may be
            large ones (``worker.LARGE_GET_BYTES``: parts, and objects of a
            MiB or more) at once, shared out the same way (at least one per
            worker); None: all of them. Many small GETs keep a link with
            latency busy; large ones only share the same bandwidth and
            CPUs, and each holds memory.
        :param max_queue_size: the most GET jobs planned ahead of the
            workers (the CLI's ``max_queue_size``, s3transfer's bound on its
            queued tasks): the submitter waits for the workers beyond it,
            so the jobs of many parts or files do not pile up in memory.
        :param check_etag_md5: check the MD5 of each object fetched in one
            GET against its ETag, where the ETag is one (not a multipart
            upload's, not SSE-KMS or SSE-C): the worker hashes the bytes as
            they arrive, and a mismatch fails the download.
        :param size_from_first_get: how an object downloaded without
            ``expected_size`` is sized. False: by a HeadObject, as
            s3transfer does. True: by its first GET, a range of the first
            ``max(multipart_threshold, multipart_chunksize)`` bytes whose
            ``Content-Range`` tells the size; the rest of a larger object
            is fetched in ranged GETs with ``IfMatch`` of that GET's ETag.
            One request per object below that size, none per object before
            its bytes (``aws s3 ppcp --files-from``: a list of keys, no
            listing). A HeadObject is still made when a checksum is to be
            verified (``ChecksumMode``): a ranged GET carries none.
        :param resume: an object fetched in parts keeps a record of the
            parts written beside its temp file, and a download that does
            not finish leaves both for the next download of the same
            object to the same file, which fetches only the missing parts
            (``resume``). False: nothing is kept.
        """
        if max_concurrent_requests is None:
            max_concurrent_requests = max_request_processes
        if max_concurrent_large_requests is None:
            max_concurrent_large_requests = max_concurrent_requests
        if min(multipart_chunksize, max_request_processes,
               max_concurrent_requests, max_concurrent_large_requests,
               max_queue_size) <= 0:
            raise ValueError('multipart_chunksize, max_request_processes, '
                             'max_concurrent_requests, '
                             'max_concurrent_large_requests and '
                             'max_queue_size must be positive')
        self.multipart_threshold = multipart_threshold
        self.multipart_chunksize = multipart_chunksize
        # Each worker makes at least one GET at once: more workers than
        # requests would put more of them in flight than asked for (and
        # cost ~30 MiB each to do it).
        self.max_request_processes = min(max_request_processes,
                                         max_concurrent_requests)
        self.start_method = start_method
        self.max_concurrent_requests = max_concurrent_requests
        self.max_concurrent_large_requests = min(
            max_concurrent_large_requests, max_concurrent_requests)
        self.max_queue_size = max_queue_size
        self.check_etag_md5 = check_etag_md5
        self.size_from_first_get = size_from_first_get
        self.resume = resume

    def requests_of_worker(self, number):
        """How many GETs worker ``number`` makes at once: the concurrent
        requests shared out as evenly as the processes allow."""
        return self._share(self.max_concurrent_requests, number)

    def large_requests_of_worker(self, number):
        """How many of worker ``number``'s GETs may be large at once (at
        least one: a worker must be able to do any job)."""
        return min(max(1, self._share(self.max_concurrent_large_requests,
                                      number)),
                   self.requests_of_worker(number))

    def _share(self, total, number):
        share, extra = divmod(total, self.max_request_processes)
        return share + (number < extra)

    def part_size(self, size):
        """The size of the ranged GETs of an object of ``size`` bytes.

        ``multipart_chunksize``, but no more than ``MAX_PARTS`` parts: every
        part is a job record planned and queued at once, so a tiny chunk
        size (``multipart_chunksize = 1``) would otherwise fill the
        submitter's memory with a job per byte."""
        return max(self.multipart_chunksize, -(-size // MAX_PARTS))

    def num_parts(self, size):
        """How many GETs fetch an object of ``size`` bytes: one below the
        multipart threshold, else one per ``part_size``."""
        if size < self.multipart_threshold:
            return 1
        return -(-size // self.part_size(size))
