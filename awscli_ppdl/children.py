"""What every child process does first: signals and watching its parent.

The parent orchestrates Ctrl-C and a closed terminal (it cancels, then stops
its children), so the children ignore the SIGINT and SIGHUP that the terminal
sends to the whole process group.
SIGXFSZ is ignored so that a write past ``RLIMIT_FSIZE`` fails with EFBIG and
is reported, instead of killing the process.

Children get an OS-level name (``ppcp-worker-3`` in ``ps`` and ``top``), so
a user can tell what they are, and start with the default SIGTERM action and
no inherited log handlers (under ``fork`` they would otherwise run the
parent's handlers and write to its streams): their records go to the parent
through ``childlogs``.

Until it has set those, a child runs with the parent's handlers: under
``fork`` a SIGTERM, SIGHUP or SIGINT that reached it then would raise the
parent's ``Terminated`` or ``KeyboardInterrupt`` in the child's copy of the
parent's stack (a traceback on the parent's stderr, or the CLI's own
clean-up run a second time). So the parent starts every child with them
blocked (``signals_blocked(PARENT_SIGNALS)``) and the child unblocks them
once its own actions are in place; one sent meanwhile is delivered then.

A child whose parent dies must not go on: ``parent_process().sentinel`` becomes
readable when the parent exits, under every start method, so one daemon thread
waits on it, runs the child's clean-up and ends the process at once.
"""
import contextlib
import ctypes
import logging
import logging.handlers
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading

from awscli_ppdl.childlogs import send_records_to_parent

_PR_SET_NAME = 15
_INHERITED_LOGGERS = ('', 'awscli', 'botocore', 's3transfer', 'urllib3')
# The signals the parent handles itself (``command``, Python's SIGINT).
PARENT_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


@contextlib.contextmanager
def signals_blocked(signals):
    """Held back in this thread (and delivered when unblocked), blocked in
    the processes it starts meanwhile (a signal mask survives fork and
    exec)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)

def prepare_child(on_parent_death=None, name=None, child_logging=None):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, 'SIGXFSZ'):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, PARENT_SIGNALS)
    _set_os_process_name(name or multiprocessing.current_process().name)
    for logger_name in _INHERITED_LOGGERS:
        logging.getLogger(logger_name).handlers.clear()
    if child_logging is not None:
        send_records_to_parent(child_logging)
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    watcher = threading.Thread(
        target=_exit_when_parent_dies,
        args=(parent.sentinel, on_parent_death),
        name='ppcp-parent-watch', daemon=True,
    )
    watcher.start()


def _set_os_process_name(name):
    """Best effort: Linux ``prctl(PR_SET_NAME)``, 15 characters at most.

    The symbol is looked up in the running process (which has libc loaded):
    ``ctypes.util.find_library`` would run ``ldconfig`` in every child.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _exit_when_parent_dies(sentinel, on_parent_death):
    multiprocessing.connection.wait([sentinel])
    try:
        if on_parent_death is not None:
            on_parent_death()
    finally:
        os._exit(1)


def exit_child(code=0):
    """End a child without flushing inherited stdio buffers.

    Under ``fork`` a child inherits the parent's stdout/stderr buffers (and
    their locks, possibly held by a parent thread at fork time); the children
    never write to them, so they leave without flushing, except for the log
    records still on their way to the parent.
    """
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.handlers.QueueHandler):
            handler.queue.close()
            handler.queue.join_thread()
    os._exit(code)
