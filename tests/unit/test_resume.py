"""The resume record: names, the lock, what a rerun trusts after which
kind of interruption (a process's death, a restart of the machine)."""
import awscli  # noqa: F401  (before botocore: selects the vendored copy)

import os

import pytest

from awscli_ppdl import resume
from awscli_ppdl.fileio import NAME_MAX
from awscli_ppdl.resume import (
    DestinationLockedError, ObjectIdentity, Partial, record_part,
    resumable_names)

MiB = 1024 * 1024
IDENTITY = ObjectIdentity(bucket='b', key='k', version_id=None, etag='"e"',
                          size=10, last_modified='2026-01-01T00:00:00+00:00',
                          part_size=4)


@pytest.fixture
def boot(monkeypatch, tmp_path):
    """The machine's boot id, as a file the test can change (a restart)."""
    path = tmp_path / 'boot_id'
    path.write_text('boot-1\n')
    monkeypatch.setattr(resume, 'BOOT_ID_FILE', str(path))
    return path


@pytest.fixture
def destination(tmp_path, boot):
    return str(tmp_path / 'file.bin')


def write_parts(partial, *indexes, crc=None):
    """What the workers do: the bytes, then the part's line."""
    with open(partial.temp_filename, 'r+b' if os.path.exists(
            partial.temp_filename) else 'w+b') as f:
        f.truncate(IDENTITY.size)
        for index in indexes:
            f.seek(index * IDENTITY.part_size)
            f.write(b'x' * IDENTITY.part_length(index))
    for index in indexes:
        record_part(partial.record_filename, index, crc)


def test_names_fit_in_name_max(tmp_path):
    temp, record = resumable_names(str(tmp_path / ('n' * NAME_MAX)))
    for name in (temp, record):
        assert len(os.path.basename(name).encode()) <= NAME_MAX
    assert temp[:-len('.ppcp-tmp')] == record[:-len('.ppcp-resume')]


def test_a_second_open_is_refused_while_the_first_holds_the_lock(
        destination):
    first = Partial.open(destination, IDENTITY)
    with pytest.raises(DestinationLockedError):
        Partial.open(destination, IDENTITY)
    first.finish()
    Partial.open(destination, IDENTITY).finish()
    assert not os.path.exists(first.record_filename)


def test_kept_parts_are_resumed_with_their_crcs(destination):
    first = Partial.open(destination, IDENTITY)
    write_parts(first, 0, crc=('crc32', 7))
    write_parts(first, 2)
    assert first.keep() == 4 + 2
    second = Partial.open(destination, IDENTITY)
    assert second.notice is None
    assert second.kept == ((0, ('crc32', 7)), (2, None))


def test_nothing_recorded_keeps_nothing(destination):
    partial = Partial.open(destination, IDENTITY)
    write_parts(partial)
    assert partial.keep() == 0
    assert not os.path.exists(partial.temp_filename)
    assert not os.path.exists(partial.record_filename)


def test_unsynced_parts_survive_a_process_death_not_a_restart(destination,
                                                              boot):
    """A run killed outright syncs nothing: its parts are trusted while
    the machine has not restarted (the page cache still holds them)."""
    killed = Partial.open(destination, IDENTITY)
    write_parts(killed, 1)
    killed._unlock()   # the kernel's part when the process dies
    again = Partial.open(destination, IDENTITY)
    assert [index for index, _ in again.kept] == [1]
    write_parts(again, 0)
    again._unlock()
    boot.write_text('boot-2\n')
    after_restart = Partial.open(destination, IDENTITY)
    assert after_restart.kept == ()
    assert 'the machine has restarted' in after_restart.notice


def test_synced_parts_survive_a_restart(destination, boot):
    first = Partial.open(destination, IDENTITY)
    write_parts(first, 0, 1)
    first.keep()
    boot.write_text('boot-2\n')
    second = Partial.open(destination, IDENTITY)
    write_parts(second, 2)
    second._unlock()   # killed: part 2 is not synced
    boot.write_text('boot-3\n')
    third = Partial.open(destination, IDENTITY)
    assert [index for index, _ in third.kept] == [0, 1]
    assert third.notice is None


@pytest.mark.parametrize('change, reason', [
    (dict(etag='"other"'), 'the object has changed since'),
    (dict(size=11), 'the object has changed since'),
    (dict(last_modified='2026-02-01T00:00:00+00:00'),
     'the object has changed since'),
    (dict(key='other'), 'its record is of another object'),
    (dict(version_id='v2'), 'its record is of another object'),
    (dict(part_size=5), 'it was fetched in parts of another size'),
])
def test_another_object_starts_over(change, reason, destination):
    first = Partial.open(destination, IDENTITY)
    write_parts(first, 0)
    first.keep()
    second = Partial.open(destination, IDENTITY._replace(**change))
    assert second.kept == ()
    assert reason in second.notice
    assert not os.path.exists(second.temp_filename)


def test_a_temp_file_of_the_wrong_length_starts_over(destination):
    first = Partial.open(destination, IDENTITY)
    write_parts(first, 0)
    first.keep()
    os.truncate(first.temp_filename, 3)
    second = Partial.open(destination, IDENTITY)
    assert second.kept == ()
    assert 'not as long as the object' in second.notice


def test_what_was_kept_is_said_in_one_line(capsys, tmp_path, monkeypatch):
    from awscli_ppdl.command import _say_what_was_kept, _stderr_lines

    monkeypatch.chdir(tmp_path)
    say = _stderr_lines({})
    _say_what_was_kept([], say)
    _say_what_was_kept([(str(tmp_path / 'a'), str(tmp_path / 'a.ppcp-tmp'),
                         MiB, 4 * MiB)], say)
    _say_what_was_kept([(str(tmp_path / name),
                         str(tmp_path / f'{name}.ppcp-tmp'), MiB, 4 * MiB)
                        for name in 'ab'], say)
    _say_what_was_kept([(str(tmp_path / 'c'), str(tmp_path / 'c.ppcp-tmp'),
                         MiB, 4 * MiB)], _stderr_lines({'quiet': True}))
    assert capsys.readouterr().err.splitlines() == [
        'Kept 1.0 MiB of 4.0 MiB of ./a in ./a.ppcp-tmp: run the same '
        'command again to resume the download.',
        'Kept 2.0 MiB of 8.0 MiB of 2 files, each in <file>.ppcp-tmp beside '
        'it: run the same command again to resume the downloads.']


def test_a_record_removed_before_it_is_locked_is_not_the_one_locked(
        destination, monkeypatch):
    """The run holding the lock finishes (removes the record, unlocks)
    between the next run's open and its lock: that run must lock the file
    a third run would open, not the removed one."""
    real_flock = resume.fcntl.flock
    removed = []

    def flock(fd, operation):
        if operation & resume.fcntl.LOCK_EX and not removed:
            removed.append(fd)
            os.unlink(resumable_names(destination)[1])
        return real_flock(fd, operation)
    monkeypatch.setattr(resume.fcntl, 'flock', flock)
    partial = Partial.open(destination, IDENTITY)
    assert removed
    monkeypatch.setattr(resume.fcntl, 'flock', real_flock)
    with pytest.raises(DestinationLockedError):
        Partial.open(destination, IDENTITY)
    partial.finish()
