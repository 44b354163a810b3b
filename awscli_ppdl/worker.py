"""The worker process: performs GET jobs and writes the bytes at their offset.

Each of its threads takes one job at a time from the job queue
(``run_worker``) and makes its GET, checked (``checkedget``) and written at
its offset (``bodywriter``). It reports each job to the monitor exactly
once, success or failure; reports of jobs done back to back travel
together, in one round trip.
"""
import logging
import queue
import threading
import time

from awscli_ppdl import fileio, splicing
from awscli_ppdl.bodywriter import BodyWriter
from awscli_ppdl.checkedget import CheckedGet, Fetched
from awscli_ppdl.getobject import GetObjectSender
from awscli_ppdl.children import exit_child, prepare_child
from awscli_ppdl.credentials import signing_credentials
from awscli_ppdl.records import SHUTDOWN, ErrorSummary

logger = logging.getLogger(__name__)

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
# A worker holds the reports of finished jobs of small whole objects while
# more are coming, and sends them to the monitor in batches: one round trip
# for up to REPORT_BATCH of them, once full, once the oldest is REPORT_DELAY
# old, and once the parent waits for them, as soon as the process runs out
# of jobs (``ReportBatches``). Other reports, and those of a job queued with
# nothing more to come, go at once (``_batched``): no file's result waits
# for the delay.
REPORT_BATCH = 32
REPORT_DELAY = 0.05


class Worker:
    """One job at a time, and its report; a worker process runs one per
    thread. Its job's GET is its ``CheckedGet``'s, made per thread.

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
        self._large_slots = (threading.Semaphore(1) if large_slots is None
                             else large_slots)
        splicers = splicing.SplicerPool(1) if splicers is None else splicers
        temp_files = (fileio.TempFileRegistry() if temp_files is None
                      else temp_files)
        self._get = CheckedGet(sender, temp_files,
                               BodyWriter(splicers, LARGE_GET_BYTES))
        self._monitor = monitor
        self._cancel_event = cancel_event
        self._reports = reports

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
        """A large-GET slot. The slots are fewer than the threads, and the
        threads idle on the job queue hold them: once the parent waits for
        the downloads, a thread that would wait for one sends what its
        process holds first."""
        if self._large_slots.acquire(blocking=False):
            return
        if self._reports is not None and self._reports.due():
            self._reports.flush()
        self._large_slots.acquire()

    def _next_job(self, job_queue):
        """The next job; once the parent waits for the downloads, a thread
        that would wait for one sends what its process holds first: the
        reports of the process's last jobs go as soon as it has no more."""
        if self._reports is not None and self._reports.due():
            try:
                return job_queue.get_nowait()
            except queue.Empty:
                self._reports.flush()
        return job_queue.get()

    def run_job(self, job):
        """Do a job and report it; returns the GETs that must follow it
        (the rest of an object its first GET sized, ``sizing``)."""
        fetched, error, cancelled = Fetched(0), None, False
        progress = _ProgressReporter(self._monitor, job.transfer_id)
        if self._cancel_event.is_set():
            cancelled = True
        elif self._should_run(job):
            try:
                fetched = self._get.fetch(job, progress)
            except Exception as e:
                logger.debug('Job %s failed', job, exc_info=True)
                error = ErrorSummary.from_exception(e)
        num_parts = job.num_parts
        if fetched.sized is not None:
            num_parts = 1 + len(fetched.rest)
        report = (job.transfer_id, num_parts, fetched.received, error,
                  cancelled, progress.remainder(fetched.received),
                  fetched.part_crc, fetched.sized)
        if self._reports is not None:
            self._reports.add(report, hold=_batched(job))
        else:
            self._monitor.notify_job_done(*report)
        return fetched.rest

    def _should_run(self, job):
        """A range of a transfer that failed or was cancelled (a part, or a
        stream's range) is not worth a GET. A whole-object GET is not asked
        about: it is one small job, and the round trip would cost more than
        the rare GET it saves."""
        return ('Range' not in job.extra_args
                or self._monitor.should_run(job.transfer_id))


def _batched(job):
    """Whether the job's report may be held for a batch: only a small whole
    object's, and only while more is coming (the submitter had more in
    hand, or the parent said more would follow). Batches save round trips
    for many tiny objects; beside a part's or a large object's bytes, one round trip is nothing, and a
    part's report is on the way of its file's result: the part that
    completes a file is whichever finishes last, not the one queued with
    nothing more to come (a stream's ranges alike), and its report would
    otherwise wait for REPORT_DELAY. The first GET of an object of unknown
    size (``sizing``) is batched as a small object's: most are, and a
    larger one's file completes with a later part."""
    return (job.more_to_come and job.num_parts == 1
            and ((job.length or 0) < LARGE_GET_BYTES
                 or job.rest_part_size is not None))


def _is_large(job):
    """Whether the job takes a large-GET slot. The first GET of an
    object of unknown size (``sizing``) does not, though its range is a
    part's: a list of keys is mostly of small objects, each that one GET,
    which would otherwise be held to the large GETs' share."""
    if job.rest_part_size is not None:
        return False
    return job.length is None or job.length >= LARGE_GET_BYTES


class ReportBatches:
    """Reports of finished jobs on their way to the monitor, in batches.

    The process's threads add to one batch. It is sent when full, with a
    report that must not wait, or by a thread of its own once its oldest
    report is REPORT_DELAY old. When the parent starts waiting for the
    downloads (``reports_due``, a latch of the pool's: a semaphore it
    releases), what is held goes at once, and from then on a thread that
    would wait for a job or a slot sends the batch first (``Worker``): the
    process's last reports do not wait for the delay. (Each thread used to
    send the batch whenever it had waited REPORT_DELAY for a job, and the
    submitter marked most jobs "nothing more to come" whenever the parent
    was slower than the workers: ~2 reports a round trip instead of up to
    32, and a recursive download's last reports in another worker waited
    for that timer.)
    """

    def __init__(self, monitor, reports_due):
        self._monitor = monitor
        self._changed = threading.Condition()
        self._reports = []
        self._first_added = None
        self._due = False
        self._closed = False
        self._sender = threading.Thread(
            target=self._send_when_due, name='ppcp-reports', daemon=True)
        self._sender.start()
        threading.Thread(target=self._notice_when_due, args=(reports_due,),
                         name='ppcp-reports-due', daemon=True).start()

    def add(self, report, hold=True):
        """Add a report; unless ``hold``, send it now, with the batch."""
        with self._changed:
            self._reports.append(report)
            if len(self._reports) == 1:
                self._first_added = time.monotonic()
            hold = hold and len(self._reports) < REPORT_BATCH
            if hold and len(self._reports) == 1:
                self._changed.notify()
        if not hold:
            self.flush()

    def due(self):
        """Whether the parent waits for the downloads."""
        return self._due

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

    def _notice_when_due(self, reports_due):
        """The parent waits for the downloads: what is held goes now (a
        thread of its own, as the latch is another process's). The latch
        is handed on, for the other workers."""
        reports_due.acquire()
        reports_due.release()
        self._due = True
        try:
            self.flush()
        except Exception:
            logger.debug('Could not send job reports', exc_info=True)

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
        """Until the oldest report is REPORT_DELAY old; False once closed."""
        with self._changed:
            while not self._closed:
                if not self._reports:
                    self._changed.wait()
                    continue
                due = self._first_added + REPORT_DELAY - time.monotonic()
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


def run_worker(client_factory, http_settings, job_queue, monitor,
               cancel_event, reports_due, requests=1, large_requests=None,
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
    :param reports_due: the pool's latch, released once the parent waits
        for the downloads: the reports held for a batch go
        (``ReportBatches``).
    :param large_requests: how many of those GETs may be large ones
        (``LARGE_GET_BYTES``) at once; None: all of them.
    """
    temp_files = fileio.TempFileRegistry()
    prepare_child(on_parent_death=temp_files.remove_all,
                  child_logging=child_logging)
    if http_settings is not None:
        http_settings = http_settings.with_room_for(requests)
    sender = _get_object_sender(client_factory, http_settings, monitor)
    reports = ReportBatches(monitor, reports_due)
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
