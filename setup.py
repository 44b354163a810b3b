"""Metadata lives in setup.cfg; this file only stops an unsupported Python.

pip resolves awscli before it weighs this project's own python_requires, so
on Python 3.9 it would only say that no awscli version matches. Building the
metadata runs this file first, under the Python being installed into.
"""
import sys

from setuptools import setup

if sys.version_info < (3, 10):
    sys.exit('awscli-ppdl needs Python 3.10 or newer (as AWS CLI 1.46 does); '
             'this is Python %d.%d.%d' % sys.version_info[:3])

setup()
