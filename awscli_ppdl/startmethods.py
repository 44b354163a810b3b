"""How the pool's children start: forked, or from a lean fork server.

Forking starts a child at once, but the child inherits the whole heap of the
``aws`` process (the CLI, botocore, the parsed S3 model: ~50 MiB), and ``ps``
and ``top`` count it in every process: ten forked workers look like 600 MiB.
By default (``start_method=None``), when ``LEAN_MIN_WORKERS`` or more workers
are expected (a download in parts, or many files), the monitor, the
submitter and the first worker are forked, so the first GET is not delayed,
and every further worker comes from a fork server that has imported only
what a worker runs (~20 MiB of heap; a worker needs no botocore client for a
plain GET, see ``getobject``, so it never loads the S3 model either). The
server and its resource tracker cost ~0.25 s of CPU to start and ~47 MiB of
their own, so a download that fewer workers will do forks everything.

Multiprocessing runs that fork server, and a resource tracker for the named
semaphores, as processes of their own in the ``aws`` process group. They are
started with the terminal's SIGINT and SIGHUP blocked (a signal mask survives
fork and exec), so that closing the terminal does not kill them before the
parent has stopped the download; the pool's children ignore both anyway.
Like any fork server, it lives until the process that started it exits,
and it is the process's one fork server: code of the same process that
starts children with ``forkserver`` gets it, and its preloaded modules, too.

Two things keep that fork server lean. It is not asked to import
``__main__``, and its children are not told to run it: ``spawn`` and
``forkserver`` re-run the parent's ``__main__`` in a child so that functions
defined there can be found, but ours are in ``awscli_ppdl``, and the ``aws``
script's ``__main__`` imports the whole CLI. And the queues and events the
children share come from the fork server's context (named semaphores, which
a child that was not forked from the parent can open).
"""
import contextlib
import logging
import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import multiprocessing.popen_forkserver
import multiprocessing.resource_tracker
import multiprocessing.spawn
import multiprocessing.util
import signal
import threading

from awscli_ppdl.children import signals_blocked

# What a lean worker runs, imported once by the fork server instead of by
# each worker: its module, and what it imports on first use (the arguments
# it unpickles, its signer's credentials, s3transfer's retryable errors,
# IDNA for host names).
LEAN_PRELOAD = ['awscli_ppdl.worker', 'botocore.config',
                'botocore.credentials', 's3transfer.utils',
                's3transfer.exceptions', 'encodings.idna', 'uuid']
TERMINAL_SIGNALS = {signal.SIGINT, signal.SIGHUP}
# At the peak of a 1 GiB download a lean worker holds 31-32 MiB, a forked
# one 58 (what ``ps`` shows: a forked child counts every page it shares
# with the parent); the fork server and its resource tracker hold ~47 MiB.
# With fewer workers than this the server would cost more than it saves.
LEAN_MIN_WORKERS = 4

logger = logging.getLogger(__name__)
_preparation_lock = threading.Lock()


class ChildContexts:
    """The contexts of the pool's children and of what they share."""

    def __init__(self, start_method=None, workers=LEAN_MIN_WORKERS):
        """:param workers: how many worker processes are expected."""
        methods = multiprocessing.get_all_start_methods()
        self._lean = (start_method is None and workers >= LEAN_MIN_WORKERS
                      and {'fork', 'forkserver'} <= set(methods))
        if self._lean:
            self.first = multiprocessing.get_context('fork')
            self.later_workers = _LeanForkServerContext()
            self.later_workers.set_forkserver_preload(LEAN_PRELOAD)
        else:
            if start_method is None and 'fork' in methods:
                start_method = 'fork'
            self.first = self.later_workers = multiprocessing.get_context(
                start_method)
        self.shared = self.later_workers

    @property
    def forks(self):
        """Whether the first children are forked (and inherit the parent)."""
        return self.first.get_start_method() == 'fork'

    @property
    def forks_later_workers(self):
        """Whether workers after the first would be forked too."""
        return self.later_workers.get_start_method() == 'fork'

    def start_helpers(self):
        """Start the resource tracker and the fork server now, deaf to the
        terminal: the server imports what a worker runs (~0.2 s of CPU)
        while the parent is still listing, and later workers need not wait
        for it as long."""
        if self._lean:
            with signals_blocked(TERMINAL_SIGNALS):
                multiprocessing.resource_tracker.ensure_running()
                multiprocessing.forkserver.ensure_running()
            logger.debug('Started the fork server of the workers after the '
                         'first')

    def fork_server_dir(self):
        """Where the lean fork server's socket is (this process's
        multiprocessing temp dir), or None. Multiprocessing removes it when
        the parent exits; a killed parent leaves it to the monitor."""
        if not self._lean:
            return None
        return multiprocessing.util.get_temp_dir()


class _LeanForkServerProcess(multiprocessing.context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj):
        with signals_blocked(TERMINAL_SIGNALS), _main_left_out():
            return multiprocessing.popen_forkserver.Popen(process_obj)


class _LeanForkServerContext(multiprocessing.context.ForkServerContext):
    Process = _LeanForkServerProcess


@contextlib.contextmanager
def _main_left_out():
    """Leave ``__main__`` out of the preparation data a child receives.

    ``popen_forkserver`` asks ``spawn.get_preparation_data`` for it; for the
    moment a lean child is launched, that function drops the entries that
    would make the child run the parent's ``__main__``.
    """
    with _preparation_lock:
        get_preparation_data = multiprocessing.spawn.get_preparation_data

        def without_main(name):
            data = get_preparation_data(name)
            data.pop('init_main_from_path', None)
            data.pop('init_main_from_name', None)
            return data

        multiprocessing.spawn.get_preparation_data = without_main
        try:
            yield
        finally:
            multiprocessing.spawn.get_preparation_data = get_preparation_data
