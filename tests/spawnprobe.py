"""Runs in freshly started children: stdlib-only at import time on purpose,
so what a child imports is decided by the function's argument alone."""
import importlib


def botocore_file_after_importing(module_name):
    importlib.import_module(module_name)
    import botocore

    return botocore.__file__
