"""The pool's children: the transfer monitor's manager, the submitter and
the workers, with the queues between them.

Started, watched and stopped here, and nowhere else. Every child that is
forked from the parent is forked at once, before any thread of the pool
runs (the child-log receiver, the collector, the worker starter): a fork
copies the locks that other threads hold at that moment into a child where
nobody will release them. Workers started later come, from a thread of
their own (``WorkerStarter``), only as many as there are jobs for: from the
lean fork server, or by ``spawn`` or ``forkserver`` where those were asked
for. Only where the shared queues are the fork context's (``fork`` asked
for, or too few workers expected at the start for the lean fork server)
is a later worker forked from that thread, when a library caller asks for
more workers than at the start (``aws s3 ppcp`` starts all it needs at
once): such a child runs only ``run_worker``, which takes no lock of the
parent's threads (log handlers' locks are renewed at fork, the queues'
locks are semaphores between processes that no parent thread holds, the
monitor's proxies reconnect after a fork, and no native thread runs). Stopping has two
grades: ``terminate`` (now: SIGTERM, then SIGKILL after a grace) for a
cancel or a broken pool, and the graceful end of ``close`` (every child
takes a ``SHUTDOWN`` and exits) after the last download.
"""
import contextlib
import functools
import gc
import logging
import signal
import threading

from awscli_ppdl import fileio
from awscli_ppdl.childlogs import ChildLogReceiver
from awscli_ppdl.children import prepare_child, starting_children
from awscli_ppdl.monitor import TransferMonitorManager
from awscli_ppdl.records import SHUTDOWN
from awscli_ppdl.startmethods import ChildContexts
from awscli_ppdl.submitter import run_submitter
from awscli_ppdl.worker import run_worker

logger = logging.getLogger(__name__)

# Requests waiting for the submitter: enough to keep it busy, bounded so a
# listing of millions of keys does not sit in memory (the seed's bound).
REQUEST_QUEUE_SIZE = 1000
# How long a child gets to exit after SIGTERM before SIGKILL.
TERMINATE_GRACE = 2.0
# How long a graceful stop waits for children that were asked to exit.
JOIN_TIMEOUT = 10.0
# How long the monitor's manager gets to show that it died (rather than
# stopped answering) when a call to it fails.
MONITOR_EXIT_WAIT = 0.2


class ChildProcesses:
    def __init__(self, config, client_factory, expected_workers):
        """Choose the children's start methods and start what they need
        first (the lean fork server), before the caller holds its signals.

        :param expected_workers: how many workers the caller expects to
            keep busy (``startmethods`` decides whether a fork server pays).
        """
        self._config = config
        self._client_factory = client_factory
        self._contexts = ChildContexts(config.start_method, expected_workers)
        if self._contexts.forks:
            client_factory.prepare_for_fork()
        self._contexts.start_helpers()
        self._lock = threading.Lock()
        self._stopping = False
        self._reports_wanted = False
        self._workers = []
        self._starter = None
        self._worker_http_settings = None
        self._child_logs = None
        self._manager = None
        self._submitter = None
        self.work_dir = None
        self.monitor = None
        self.request_queue = None
        self.job_queue = None
        self.cancel_event = None
        self.reports_due = None

    def start_monitor(self):
        """Start the monitor's manager; the monitor's proxy. Call it, then
        ``start_submitter_and_workers`` and ``start_threads``, inside
        ``children.starting_children``."""
        ctx = self._contexts.shared
        self._child_logs = ChildLogReceiver(ctx)
        # The manager's socket is the parent's (left to multiprocessing,
        # it would be created, and only removed on a clean exit, by the
        # manager process, which a cancel terminates): see
        # ``fileio.new_work_dir``.
        self.work_dir, address = fileio.new_work_dir()
        self._manager = TransferMonitorManager(address=address,
                                               ctx=self._contexts.first)
        with _gc_frozen_for_fork():
            self._manager.start(prepare_child, (
                functools.partial(_remove_work_dirs, self.work_dir,
                                  self._contexts.fork_server_dir()),
                'ppcp-monitor', self._child_logs.config))
        self.monitor = self._manager.TransferMonitor()
        return self.monitor

    def start_submitter_and_workers(self, worker_http_settings, workers):
        """The queues, the submitter and the first workers.

        :param worker_http_settings: what the workers' HTTP sessions are
            built with (``getobject.HttpSessionSettings``), or None.
        :param workers: how many workers are wanted now (at most the
            config's ``max_request_processes`` are started); where later
            workers would be forked (``start_method=None`` with too few of
            them for the lean fork server), they are all forked here,
            else only the first.
        """
        self._worker_http_settings = worker_http_settings
        ctx = self._contexts.shared
        self.request_queue = ctx.Queue(REQUEST_QUEUE_SIZE)
        self.job_queue = ctx.Queue(self._config.max_queue_size)
        self.cancel_event = ctx.Event()
        # Released once the parent waits for the downloads: the workers
        # then send the reports they hold for a batch
        # (``worker.ReportBatches``). A semaphore used as a latch, not an
        # Event: setting a multiprocessing Event waits for each process
        # waiting on it to wake, for ever if one of them was killed.
        self.reports_due = ctx.Semaphore(0)
        self._submitter = self._start_process(
            'ppcp-submitter', run_submitter,
            (self._client_factory, self._config, self.request_queue,
             self.job_queue, self.monitor, self.cancel_event,
             self._child_logs.config))
        if not self._contexts.forks_later_workers:
            workers = 1
        for number in range(max(1, self._capped(workers))):
            self._workers.append(self._start_worker(number, None))

    def start_threads(self):
        """The parent's own thread for the children's log records, once the
        children that are forked at once have been."""
        self._child_logs.start()

    def want_reports(self):
        """The parent waits for the downloads: every worker sends the
        reports it holds, and from then on its batch as soon as it runs
        out of jobs (``worker.ReportBatches``)."""
        if not self._reports_wanted:
            self._reports_wanted = True
            self.reports_due.release()

    @property
    def cancelled(self):
        """Whether the children were told to drop their work (after which
        the parent stops them itself: their deaths are no failure)."""
        return self.cancel_event.is_set()

    def want_workers(self, planned_parts):
        """Only as many workers as there are jobs: a single small download
        does not pay for ten process start-ups. Those beyond the ones
        started at once are started by the starter thread."""
        wanted = self._capped(planned_parts)
        with self._lock:
            started = len(self._workers)
        if wanted > started:
            if self._starter is None:
                self._starter = WorkerStarter(self._start_later_worker,
                                              started)
            self._starter.want(wanted)

    def _capped(self, workers):
        """Never more workers than the config allows."""
        return min(self._config.max_request_processes, workers)

    def find_dead_child(self):
        """How an error message names a child that has died, or None."""
        for description, process in self._described_children():
            if process.exitcode is not None:
                return (f'{description} (pid {process.pid}) '
                        f'{_describe_exit(process.exitcode)}')
        return None

    def describe_monitor_failure(self, error):
        """Why a call to the monitor failed: its process died, or not."""
        process = self._manager_process()
        process.join(MONITOR_EXIT_WAIT)
        if process.exitcode is not None:
            return (f'the transfer monitor process (pid {process.pid}) '
                    f'{_describe_exit(process.exitcode)}')
        return f'the transfer monitor stopped answering ({error!r})'

    def cancel(self):
        """Tell the children to drop what they have not started."""
        self.cancel_event.set()

    def terminate(self):
        """Stop every child now: SIGTERM, then SIGKILL after a grace."""
        with self._lock:
            self._stopping = True
        processes = self._child_processes()
        for process in processes:
            if process.exitcode is None:
                process.terminate()
        for process in processes:
            process.join(TERMINATE_GRACE)
            if process.exitcode is None:
                process.kill()
                process.join(TERMINATE_GRACE)
                if process.exitcode is None:
                    logger.debug('%s (pid %d) did not end after SIGKILL',
                                 process.name, process.pid)
        for work_queue in (self.request_queue, self.job_queue):
            work_queue.cancel_join_thread()
            work_queue.close()

    def close(self, graceful):
        """Stop the children (``graceful``: let each take a ``SHUTDOWN`` and
        exit; else they were terminated already) and remove what they leave:
        the log queue, the work directories."""
        if self._starter is not None:
            self._starter.stop()
        with self._lock:
            self._stopping = True
        try:
            if graceful:
                self._stop_gracefully()
        finally:
            # A child that did not exit on its own may have died in the
            # middle of sending a record (terminated, killed, crashed).
            self._child_logs.stop(children_killed=any(
                process.exitcode != 0 for process in self._child_processes()))
            fileio.remove_work_dirs(self.work_dir)

    def _stop_gracefully(self):
        self.request_queue.put(SHUTDOWN)
        # One for each thread of each worker: a thread stops at the first
        # it takes.
        for number in range(len(self._workers)):
            for _ in range(self._config.requests_of_worker(number)):
                self.job_queue.put(SHUTDOWN)
        processes = [self._submitter, *self._workers]
        for process in processes:
            process.join(JOIN_TIMEOUT)
        if any(process.exitcode is None for process in processes):
            self.terminate()
        self._manager.shutdown()
        for work_queue in (self.request_queue, self.job_queue):
            work_queue.close()
            work_queue.join_thread()

    def _start_process(self, name, target, args, context=None):
        context = context or self._contexts.first
        process = context.Process(target=target, args=args, name=name,
                                  daemon=True)
        with _gc_frozen_for_fork():
            process.start()
        logger.debug('Started %s (pid %d, %s)', name, process.pid,
                     context.get_start_method())
        return process

    def _start_worker(self, number, context):
        return self._start_process(
            f'ppcp-worker-{number}', run_worker,
            (self._client_factory, self._worker_http_settings, self.job_queue,
             self.monitor, self.cancel_event, self.reports_due,
             self._config.requests_of_worker(number),
             self._config.large_requests_of_worker(number),
             self._child_logs.config),
            context)

    def _start_later_worker(self):
        """In the starter thread: one more worker, unless the pool is
        stopping by the time it has started."""
        with self._lock:
            number = len(self._workers)
        with starting_children():
            worker = self._start_worker(number, self._contexts.later_workers)
        with self._lock:
            if not self._stopping:
                self._workers.append(worker)
                return
        worker.terminate()
        worker.join()

    def _manager_process(self):
        # BaseManager keeps its process private; it is read in one place.
        return self._manager._process

    def _described_children(self):
        """Every child process, with how an error message names it."""
        with self._lock:
            workers = list(self._workers)
        return [('the submitter process', self._submitter),
                *((f'worker process {i}', worker)
                  for i, worker in enumerate(workers)),
                ('the transfer monitor process', self._manager_process())]

    def _child_processes(self):
        return [process for _, process in self._described_children()]


class WorkerStarter:
    """Starts workers in a thread of its own, one at a time, up to the
    number wanted so far.

    The first worker from the lean fork server waits for the server to
    import what a worker runs (~0.2 s); neither the parent's main thread
    (which lists and submits) nor the collector waits with it.
    """

    def __init__(self, start_one, started=1):
        """:param started: how many workers were started without it."""
        self._start_one = start_one
        self._changed = threading.Condition()
        self._wanted = started
        self._started = started
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name='ppcp-starter',
                                        daemon=True)
        self._thread.start()

    def want(self, count):
        with self._changed:
            if count > self._wanted:
                self._wanted = count
                self._changed.notify()

    def stop(self):
        """Wait for a start in progress, for a bounded time: a start that
        never returns (a fork waiting for a lock that an interrupt left
        held) must not hang the shutdown with it; a worker it starts after
        all is terminated (``ChildProcesses._start_later_worker``)."""
        with self._changed:
            self._stopped = True
            self._changed.notify()
        self._thread.join(JOIN_TIMEOUT)
        if self._thread.is_alive():
            logger.debug('The worker starter did not stop in %s s',
                         JOIN_TIMEOUT)

    def _run(self):
        while True:
            with self._changed:
                while not self._stopped and self._started >= self._wanted:
                    self._changed.wait()
                if self._stopped:
                    return
                self._started += 1
            try:
                self._start_one()
            except Exception:
                # The pool goes on with the workers it has.
                logger.debug('Could not start a worker', exc_info=True)
                return


def _remove_work_dirs(work_dir, fork_server_dir):
    """What the monitor removes when the parent is killed."""
    fileio.remove_work_dirs(work_dir)
    if fork_server_dir is not None:
        fileio.remove_tree(fork_server_dir)


@contextlib.contextmanager
def _gc_frozen_for_fork():
    """A forked child never collects the objects it inherited, so its garbage
    collector does not write to (and so copy) the pages it shares with the
    parent; the parent collects them as before. (Signals are held around
    every child's start by ``children.starting_children``.)"""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _describe_exit(exitcode):
    if exitcode < 0:
        try:
            return f'was killed by {signal.Signals(-exitcode).name}'
        except ValueError:
            return f'was killed by signal {-exitcode}'
    return f'exited unexpectedly with code {exitcode}'
