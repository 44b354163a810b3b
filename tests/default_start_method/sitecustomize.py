"""Python 3.14's default start method, on the Python that runs the tests.

Python 3.14 makes ``forkserver`` the default start method on Linux: code
that does not choose one (``multiprocessing.Process``, ``Queue``,
``get_context()``, ``concurrent.futures.ProcessPoolExecutor``) gets it, and
``get_start_method(allow_none=True)`` still says that nobody chose. This does
the same on an older Python: it replaces the default, as 3.14's
``multiprocessing.context`` does, rather than calling ``set_start_method``,
which would be a choice.

``tests/conftest.py`` applies it in the test process when the suite runs with
``--default-start-method`` (or ``PPDL_TEST_DEFAULT_START_METHOD``), and puts
this directory first on ``PYTHONPATH`` so that every Python the tests start
(the ``aws`` command, scripts) imports this module at start-up and does the
same. A ``sitecustomize`` that this one shadows is still run.
"""
import importlib.machinery
import importlib.util
import os
import sys

ENV_VAR = 'PPDL_TEST_DEFAULT_START_METHOD'
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


def _run_the_shadowed_sitecustomize():
    path = [p for p in sys.path
            if os.path.abspath(p or os.curdir) != HERE]
    spec = importlib.machinery.PathFinder.find_spec('sitecustomize', path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


if __name__ == 'sitecustomize':  # (not when conftest imports it)
    if os.environ.get(ENV_VAR):
        make_default(os.environ[ENV_VAR])
    _run_the_shadowed_sitecustomize()
