"""Metadata lives in setup.cfg; this file only stops an unsupported Python.

pip resolves awscli before it weighs this project's own python_requires, so
on Python 3.9 it would only say that no awscli version matches. Building the
metadata runs this file first, under the Python being installed into.

The check comes before setuptools is imported: it needs nothing but ``sys``,
so it names the Python whether or not setuptools is there (a virtualenv made
by Python 3.12 or newer has none; a PEP 517 build brings its own).
"""
import sys

if sys.version_info < (3, 10):
    sys.exit('awscli-ppdl needs Python 3.10 or newer (as AWS CLI 1.46 does); '
             'this is Python %d.%d.%d' % sys.version_info[:3])

from setuptools import setup  # noqa: E402  (after the check, see above)

setup()
