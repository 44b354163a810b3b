"""Start-up hooks for the Pythons the tests start, by environment variable.

This directory is put first on ``PYTHONPATH`` (by ``tests/conftest.py``, or
by a test for its own subprocess) so that each Python imports this module at
start-up. A ``sitecustomize`` that it shadows still runs.

``PPDL_TEST_DEFAULT_START_METHOD=forkserver``: Python 3.14's default start
method on Linux, on an older Python. Code that does not choose one
(``multiprocessing.Process``, ``Queue``, ``get_context()``,
``concurrent.futures.ProcessPoolExecutor``) gets it, and
``get_start_method(allow_none=True)`` still says that nobody chose: the
default is replaced, as 3.14's ``multiprocessing.context`` has it, rather
than chosen with ``set_start_method``. (``--default-start-method``.)

``PPDL_TEST_FORK_LOG=FILE``: every ``os.fork()`` of the process appends a
JSON line to FILE: the process being started, the thread that forks and
the threads alive (Python 3.12+ warns of a fork with more than one).
"""
import importlib.machinery
import importlib.util
import os
import sys

DEFAULT_START_METHOD_VAR = 'PPDL_TEST_DEFAULT_START_METHOD'
FORK_LOG_VAR = 'PPDL_TEST_FORK_LOG'
HERE = os.path.dirname(os.path.abspath(__file__))


def make_default(method):
    """Make ``method`` the start method of code that chooses none."""
    import multiprocessing.context

    default = multiprocessing.context._default_context
    chosen = default._actual_context
    default._default_context = default.get_context(method)
    if chosen is not None and chosen._name != method:
        # Something asked for the default before we got here (only the test
        # process can have): what it got is the default it should have had.
        default.set_start_method(None, force=True)


def log_forks(path):
    import json
    import threading

    def before_fork():
        frame = sys._getframe(1)
        started = None
        while frame is not None and started is None:
            process = frame.f_locals.get('process_obj')
            if process is not None:
                started = getattr(process, 'name', None)
            frame = frame.f_back
        record = {'pid': os.getpid(), 'started': started,
                  'forking_thread': threading.current_thread().name,
                  'threads': sorted(t.name for t in threading.enumerate())}
        with open(path, 'a') as f:
            f.write(json.dumps(record) + '\n')

    os.register_at_fork(before=before_fork)


def _run_the_shadowed_sitecustomize():
    path = [p for p in sys.path
            if os.path.abspath(p or os.curdir) != HERE]
    spec = importlib.machinery.PathFinder.find_spec('sitecustomize', path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


if __name__ == 'sitecustomize':  # (not when conftest imports it)
    if os.environ.get(DEFAULT_START_METHOD_VAR):
        make_default(os.environ[DEFAULT_START_METHOD_VAR])
    if os.environ.get(FORK_LOG_VAR):
        log_forks(os.environ[FORK_LOG_VAR])
    _run_the_shadowed_sitecustomize()
