"""What every child process does first: signals and watching its parent.

The parent orchestrates Ctrl-C and a closed terminal (it cancels, then stops
its children), so the children ignore the SIGINT and SIGHUP that the terminal
sends to the whole process group.
SIGXFSZ is ignored so that a write past ``RLIMIT_FSIZE`` fails with EFBIG and
is reported, instead of killing the process.

Children get an OS-level name (``ppcp-worker-3`` in ``ps`` and ``top``), so
a user can tell what they are, and a command line of that name only: a
forked child shares the parent's argv memory, and ``ps`` would show in every
child what the user typed, ``--sse-c-key`` and all. They start with the
default SIGTERM action and no inherited log handlers (under ``fork`` they
would otherwise run the parent's handlers and write to its streams): their
records go to the parent through ``childlogs``.

Until it has set those, a child runs with the parent's handlers: under
``fork`` a SIGTERM, SIGHUP or SIGINT that reached it then would raise the
parent's ``Terminated`` or ``KeyboardInterrupt`` in the child's copy of the
parent's stack (a traceback on the parent's stderr, or the CLI's own
clean-up run a second time). So the parent starts every child with them
blocked (``starting_children``) and the child unblocks them once its own
actions are in place; one sent meanwhile is delivered then.

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

from awscli_ppdl.childlogs import FORWARDED_LOGGERS, send_records_to_parent

_PR_SET_NAME = 15
# What the parent handles (Ctrl-C; SIGTERM and SIGHUP in the CLI) and each
# child sets for itself first.
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
    # Blocked while it was started (``starting_children``): a SIGTERM that
    # came meanwhile ends it now, the others are dropped.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, PARENT_SIGNALS)
    name = name or multiprocessing.current_process().name
    _set_os_process_name(name)
    _overwrite_command_line(name)
    for logger_name in FORWARDED_LOGGERS:
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


@contextlib.contextmanager
def starting_children():
    """Around starting children and recording them, in any thread.

    A child does not run the parent's handlers (a SIGTERM from the parent's
    clean-up raised the CLI's ``Terminated`` in a child still starting, with
    a traceback on stderr): the signals stay blocked in it until
    ``prepare_child``. And in the main thread no handler runs until the
    children are started and recorded, where the clean-up finds them: a
    handler runs at the main thread's next bytecode, which after a fork is
    logging's at-fork hook; a KeyboardInterrupt there was ignored, so the
    Ctrl-C was lost and logging's lock stayed held, and the next fork, in
    the thread that starts later workers, waited for it for ever.
    """
    with _handlers_held(), signals_blocked(PARENT_SIGNALS):
        yield


@contextlib.contextmanager
def _handlers_held():
    """In the main thread: the Python handlers of ``PARENT_SIGNALS`` run
    at the end, for the signals that came meanwhile."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    held = {}
    for signum in PARENT_SIGNALS:
        handler = signal.getsignal(signum)
        if callable(handler):
            held[signum] = handler
            signal.signal(signum, lambda *args: received.append(args))
    try:
        yield
    finally:
        for signum, handler in held.items():
            signal.signal(signum, handler)
        for signum, frame in received:
            held[signum](signum, frame)


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


def _overwrite_command_line(name):
    """Replace the argv strings this process started with (or was forked
    with) by ``name``, as ``setproctitle`` does: ``/proc/PID/cmdline``, and
    so ``ps``, read that memory, whose bounds the kernel gives in
    ``/proc/self/stat``. ``sys.argv`` is a copy and keeps its value.
    Best effort: a kernel that hides the bounds leaves the line as it is.
    """
    try:
        with open('/proc/self/stat', 'rb') as f:
            fields = f.read().rsplit(b')', 1)[1].split()
        # Fields 48 and 49 of proc(5); the list starts at field 3.
        start, end = int(fields[45]), int(fields[46])
    except (OSError, IndexError, ValueError):
        return
    if start <= 0 or end <= start:
        return
    title = name.encode()[:end - start - 1]
    ctypes.memset(start, 0, end - start)
    ctypes.memmove(start, title, len(title))


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
