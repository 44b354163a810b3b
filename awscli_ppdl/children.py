"""What every child process does first: signals and watching its parent.

The parent orchestrates Ctrl-C (it cancels, then stops its children), so the
children ignore SIGINT that the terminal sends to the whole process group.
SIGXFSZ is ignored so that a write past ``RLIMIT_FSIZE`` fails with EFBIG and
is reported, instead of killing the process.

A child whose parent dies must not go on: ``parent_process().sentinel`` becomes
readable when the parent exits, under every start method, so one daemon thread
waits on it, runs the child's clean-up and ends the process at once.
"""
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading


def prepare_child(on_parent_death=None):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, 'SIGXFSZ'):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    watcher = threading.Thread(
        target=_exit_when_parent_dies,
        args=(parent.sentinel, on_parent_death),
        name='ppcp-parent-watch', daemon=True,
    )
    watcher.start()


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
    never write to them, so they leave without flushing.
    """
    os._exit(code)
