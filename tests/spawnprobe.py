"""Runs in freshly started children: stdlib-only at import time on purpose,
so what a child imports is decided by the function's argument alone."""
import importlib


def botocore_file_after_importing(module_name):
    importlib.import_module(module_name)
    import botocore

    return botocore.__file__


def modules_loaded(names):
    """Which of ``names`` this child has imported, and the file it ran as
    the parent's ``__main__`` (``__mp_main__``), if any."""
    import sys

    return ({name: name in sys.modules for name in names},
            getattr(sys.modules.get('__mp_main__'), '__file__', None))
