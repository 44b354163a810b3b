"""Temp files: naming, creation, positioned writes, rename and clean-up."""
import awscli  # noqa: F401  (before botocore: selects the vendored copy)

import errno
import os
import re
from pathlib import Path

import pytest

from awscli_ppdl import fileio
from awscli_ppdl.fileio import (
    TEMP_SUFFIX,
    SizeMismatchError,
    TempFileRegistry,
    finalize,
    open_temp_file,
    pwrite_all,
    temp_filename_for,
)


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def create(name, size=None):
    os.close(open_temp_file(name, size))


# -- naming ------------------------------------------------------------------

def test_temp_filename_is_beside_the_target_with_random_token(tmp_path):
    target = str(tmp_path / 'sub dir' / 'report.csv')
    name = temp_filename_for(target)
    assert TEMP_SUFFIX == '.ppcp-tmp'
    assert os.path.dirname(name) == os.path.dirname(target)
    match = re.fullmatch(re.escape(target) + r'\.([0-9a-f]{8})\.ppcp-tmp',
                         name)
    assert match is not None, name


@pytest.mark.parametrize('name', ['n' * 255, 'é' * 127 + 'x', 'a' * 237])
def test_a_temp_name_fits_in_name_max_bytes(tmp_path, name):
    """A destination name of up to 255 bytes can be written: its temp name
    is cut (by whole characters, never inside a UTF-8 sequence) to fit."""
    target = str(tmp_path / name)
    temp = temp_filename_for(target)
    temp_name = os.path.basename(temp)
    assert len(os.fsencode(temp_name)) <= 255
    assert re.fullmatch(r'\.[0-9a-f]{8}\.ppcp-tmp', temp_name[-18:])
    assert name.startswith(temp_name[:-18])
    assert os.path.dirname(temp) == str(tmp_path)
    create(temp)
    assert os.path.exists(temp)


def test_temp_filenames_differ_between_calls(tmp_path):
    target = str(tmp_path / 'f')
    names = {temp_filename_for(target) for _ in range(50)}
    assert len(names) == 50


# -- creation ----------------------------------------------------------------

def test_create_without_size_makes_an_empty_file(tmp_path):
    name = str(tmp_path / 'a.ppcp-tmp')
    create(name)
    assert os.path.getsize(name) == 0


def test_create_with_zero_size_makes_an_empty_file(tmp_path):
    name = str(tmp_path / 'a.ppcp-tmp')
    create(name, 0)
    assert os.path.getsize(name) == 0


def test_create_preallocates_size_bytes_of_zeros(tmp_path):
    name = str(tmp_path / 'a.ppcp-tmp')
    create(name, 3 * 1024 * 1024 + 7)
    assert os.path.getsize(name) == 3 * 1024 * 1024 + 7
    assert read(name) == b'\0' * (3 * 1024 * 1024 + 7)


def test_opening_an_existing_temp_file_keeps_its_bytes(tmp_path):
    """Each part's worker opens (and reserves) the file: what another part
    wrote stays."""
    name = str(tmp_path / 'a.ppcp-tmp')
    Path(name).write_bytes(b'part')
    create(name, 10)
    assert read(name) == b'part' + b'\0' * 6


def test_create_in_a_missing_directory_fails(tmp_path):
    name = str(tmp_path / 'missing' / 'a.ppcp-tmp')
    with pytest.raises(FileNotFoundError):
        create(name, 10)
    assert not os.path.exists(tmp_path / 'missing')


def test_create_falls_back_to_ftruncate_when_fallocate_is_unsupported(
        tmp_path, monkeypatch):
    def unsupported(fd, offset, length):
        raise OSError(errno.EOPNOTSUPP, 'Operation not supported')

    monkeypatch.setattr(os, 'posix_fallocate', unsupported)
    name = str(tmp_path / 'a.ppcp-tmp')
    create(name, 1000)
    assert os.path.getsize(name) == 1000


def test_a_file_whose_preallocation_failed_is_still_remembered(
        tmp_path, monkeypatch):
    def disk_full(fd, offset, length):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(os, 'posix_fallocate', disk_full)
    name = str(tmp_path / 'a.ppcp-tmp')
    registry = TempFileRegistry()
    with pytest.raises(OSError) as info:
        registry.open(name, 1000)
    assert info.value.errno == errno.ENOSPC
    assert len(registry) == 1
    registry.remove_all()
    assert os.listdir(tmp_path) == []


# -- writes ------------------------------------------------------------------

def test_pwrite_all_writes_at_offsets_without_truncating(tmp_path):
    name = str(tmp_path / 'a.ppcp-tmp')
    create(name, 12)
    fd = open_temp_file(name)
    try:
        pwrite_all(fd, b'WXYZ', 8)
        pwrite_all(fd, b'abcd', 0)
    finally:
        os.close(fd)
    assert read(name) == b'abcd\0\0\0\0WXYZ'


def test_pwrite_all_completes_short_writes(tmp_path, monkeypatch):
    real_pwrite = os.pwrite
    calls = []

    def short_pwrite(fd, data, offset):
        calls.append(offset)
        return real_pwrite(fd, bytes(data[:3]), offset)

    monkeypatch.setattr(os, 'pwrite', short_pwrite)
    name = str(tmp_path / 'a.ppcp-tmp')
    create(name, 10)
    fd = open_temp_file(name)
    try:
        pwrite_all(fd, b'0123456', 2)
    finally:
        os.close(fd)
    assert read(name) == b'\0\x000123456\0'
    assert calls == [2, 5, 8]


# -- finalize ----------------------------------------------------------------

def test_finalize_renames_when_the_size_matches(tmp_path):
    target = str(tmp_path / 'out.bin')
    temp = temp_filename_for(target)
    Path(temp).write_bytes(b'hello world')
    finalize(temp, target, 11)
    assert read(target) == b'hello world'
    assert os.listdir(tmp_path) == ['out.bin']


def test_finalize_replaces_an_existing_destination(tmp_path):
    target = str(tmp_path / 'out.bin')
    Path(target).write_bytes(b'old contents that are longer')
    temp = temp_filename_for(target)
    Path(temp).write_bytes(b'new')
    finalize(temp, target, 3)
    assert read(target) == b'new'
    assert os.listdir(tmp_path) == ['out.bin']


def test_finalize_without_expected_size_renames(tmp_path):
    target = str(tmp_path / 'out.bin')
    temp = temp_filename_for(target)
    Path(temp).write_bytes(b'abc')
    finalize(temp, target, None)
    assert read(target) == b'abc'


def test_finalize_size_mismatch_removes_temp_and_writes_nothing(tmp_path):
    target = str(tmp_path / 'out.bin')
    temp = temp_filename_for(target)
    create(temp, 10)
    with pytest.raises(SizeMismatchError) as info:
        finalize(temp, target, 12)
    assert str(info.value) == (
        'Downloaded 10 bytes but the object has 12 bytes; '
        'the file was not written.')
    assert os.listdir(tmp_path) == []


def test_finalize_size_mismatch_keeps_an_existing_destination(tmp_path):
    target = str(tmp_path / 'out.bin')
    Path(target).write_bytes(b'previous')
    temp = temp_filename_for(target)
    Path(temp).write_bytes(b'short')
    with pytest.raises(SizeMismatchError):
        finalize(temp, target, 6)
    assert read(target) == b'previous'
    assert os.listdir(tmp_path) == ['out.bin']


def test_finalize_of_a_vanished_temp_file_fails(tmp_path):
    target = str(tmp_path / 'out.bin')
    with pytest.raises(FileNotFoundError):
        finalize(temp_filename_for(target), target, 0)
    assert os.listdir(tmp_path) == []


def test_finalize_removes_the_temp_file_when_the_rename_fails(tmp_path):
    # The destination is a non-empty directory: os.replace cannot overwrite it.
    target = tmp_path / 'out.bin'
    target.mkdir()
    (target / 'inside').write_bytes(b'x')
    temp = temp_filename_for(str(target))
    Path(temp).write_bytes(b'abc')
    with pytest.raises(OSError):
        finalize(temp, str(target), 3)
    assert sorted(os.listdir(tmp_path)) == ['out.bin']
    assert os.listdir(target) == ['inside']


# -- registry ----------------------------------------------------------------

def test_registry_remove_all_removes_created_and_tolerates_renamed(tmp_path):
    registry = TempFileRegistry()
    kept = temp_filename_for(str(tmp_path / 'a'))
    renamed = temp_filename_for(str(tmp_path / 'b'))
    os.close(registry.open(kept, 5))
    os.close(registry.open(renamed))
    assert len(registry) == 2
    os.replace(renamed, tmp_path / 'b')

    registry.remove_all()

    assert os.listdir(tmp_path) == ['b']
    assert len(registry) == 0


def test_registry_creates_with_size(tmp_path):
    registry = TempFileRegistry()
    name = str(tmp_path / 'a.ppcp-tmp')
    os.close(registry.open(name, 4096))
    assert os.path.getsize(name) == 4096


def test_registry_prunes_names_that_no_longer_exist(tmp_path):
    registry = TempFileRegistry(prune_at=4)
    names = [str(tmp_path / ('f%d.ppcp-tmp' % i)) for i in range(8)]
    for name in names[:3]:
        os.close(registry.open(name))
    assert len(registry) == 3
    for name in names[:3]:
        os.replace(name, name[:-len(TEMP_SUFFIX)])

    os.close(registry.open(names[3]))  # the 4th name reaches prune_at
    assert len(registry) == 1

    os.close(registry.open(names[4]))
    os.close(registry.open(names[5]))
    assert len(registry) == 3
    fileio.remove_quietly(names[4])
    os.close(registry.open(names[6]))  # reaches 4 again: names[4] is forgotten
    assert len(registry) == 3

    registry.remove_all()
    assert sorted(os.listdir(tmp_path)) == ['f0', 'f1', 'f2']


def test_registry_keeps_existing_names_and_raises_its_bound(tmp_path):
    registry = TempFileRegistry(prune_at=2)
    names = [str(tmp_path / ('f%d.ppcp-tmp' % i)) for i in range(4)]
    os.close(registry.open(names[0]))
    os.close(registry.open(names[1]))  # prune: both exist, bound becomes 4
    assert len(registry) == 2
    os.close(registry.open(names[2]))
    assert len(registry) == 3
    registry.remove_all()
    assert os.listdir(tmp_path) == []
