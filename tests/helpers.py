"""Small assertions shared by the functional and fault tests."""
import hashlib
import os

from awscli_ppdl.fileio import TEMP_SUFFIX


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def file_sha256(path):
    with open(path, 'rb') as f:
        return sha256(f.read())


def files_under(directory):
    """Every file below ``directory``, as paths relative to it."""
    found = set()
    for root, _, names in os.walk(directory):
        for name in names:
            found.add(os.path.relpath(os.path.join(root, name), directory))
    return found


def assert_no_temp_files(directory):
    leftovers = [p for p in files_under(directory) if p.endswith(TEMP_SUFFIX)]
    assert leftovers == []


def output_lines(text):
    """Lines of CLI output without the progress line's carriage returns."""
    return [line.rsplit('\r', 1)[-1].rstrip()
            for line in text.splitlines() if line.strip()]
