"""Resuming an interrupted download (issue 24, item 1), through the real
``aws`` and the fault proxy.

An object of ten 1 MiB parts is interrupted once a given number of its
parts are in the record: the GETs of the other parts are held at the proxy
(released after the interrupt, to a client that is gone), so exactly those
parts were written and recorded, whatever the machine's speed. The rerun
must fetch only the missing parts, which the proxy counts, and end with the
object's bytes."""
import json
import os
import signal
import threading

import pytest

from tests.faults.cli_process import all_gone
from tests.faults.proxy import Rule
from tests.helpers import (
    file_sha256, files_under, output_lines, process_name, sha256, wait_until)
from tests.s3server import run_aws

MiB = 1024 * 1024
PART = MiB
SIZE = 10 * MiB - 12345     # ten parts, the last one short
NUM_PARTS = 10
KEY = 'data/big.bin'


@pytest.fixture
def config(aws_env, start_ppcp):
    """1 MiB parts (after ``start_ppcp``, which sets its own)."""
    aws_env.set_config('s3', {'multipart_threshold': '1MB',
                              'multipart_chunksize': '1MB'})
    return aws_env


@pytest.fixture
def body(s3_client, bucket, config):
    data = os.urandom(SIZE)
    s3_client.put_object(Bucket=bucket, Key=KEY, Body=data)
    s3_client.put_object(Bucket=bucket, Key='data/small.txt', Body=b'small')
    return data


@pytest.fixture
def released():
    """Set at the end of a test: the held GETs go on (to no one)."""
    event = threading.Event()
    yield event
    event.set()


def hold_parts_from(fault_proxy, released, first):
    """The GETs of parts ``first``.. wait (once each) until ``released``."""
    for index in range(first, NUM_PARTS):
        fault_proxy.hold_until(released.is_set, lambda: None, timeout=120,
                               method='GET', key=KEY,
                               range_start=index * PART, times=1)


def recorded_parts(record):
    try:
        lines = record.read_text().splitlines()
    except FileNotFoundError:
        return set()
    return {int(line.split()[1]) for line in lines
            if line.startswith('part ')}


def wait_for_parts(record, count):
    wait_until(lambda: len(recorded_parts(record)) >= count, 60,
               f'{count} parts were never recorded')


def part_length(index):
    return min(PART, SIZE - index * PART)


def requested_bytes(fault_proxy):
    """The bytes the GETs of the big object asked for."""
    total = 0
    for request in fault_proxy.find_requests(method='GET', key=KEY):
        start, end = request.range
        total += end - start + 1
    return total


def rerun(config, fault_proxy, cwd, *args, command='ppcp'):
    fault_proxy.clear_rules()
    fault_proxy.clear_requests()
    return run_aws(['s3', command, *args, '--no-progress',
                    '--endpoint-url', fault_proxy.endpoint_url],
                   config, timeout=120, cwd=cwd)


def kept_line(kept_parts, destination='./big.bin'):
    from awscli.customizations.s3.utils import human_readable_size

    kept = sum(part_length(i) for i in range(kept_parts))
    return (f'Kept {human_readable_size(kept)} of '
            f'{human_readable_size(SIZE)} of {destination} in '
            f'{destination}.ppcp-tmp: run the same command again to resume '
            'the download.')


def assert_resumed(result, fault_proxy, destination, body, kept_parts):
    """The rerun succeeded with the object's bytes, and asked only for
    the parts that were not recorded (the bound of the issue, missing
    bytes plus a part per GET in flight, with no part in flight lost: the
    held GETs wrote nothing)."""
    assert result.returncode == 0, result.stderr
    assert output_lines(result.stderr) == []
    assert file_sha256(destination) == sha256(body)
    missing = SIZE - sum(part_length(i) for i in range(kept_parts))
    assert requested_bytes(fault_proxy) == missing
    assert files_under(destination.parent) >= {destination.name}
    assert not [name for name in files_under(destination.parent)
                if name.endswith(('.ppcp-tmp', '.ppcp-resume'))]


@pytest.mark.parametrize('kept_parts, recursive, signum', [
    (3, False, signal.SIGINT), (7, True, signal.SIGINT),
    (5, False, signal.SIGTERM), (5, True, signal.SIGHUP),
], ids=['ctrl-c-30%-one-object', 'ctrl-c-70%-recursive', 'sigterm-50%',
        'sighup-50%-recursive'])
def test_an_interrupt_keeps_the_parts_and_the_rerun_resumes(
        kept_parts, recursive, signum, body, bucket, fault_proxy, start_ppcp,
        config, released, out):
    """To the process group, as a terminal or a service manager sends it:
    Ctrl-C is reported as cancelled (exit 1), SIGTERM and SIGHUP as fatal
    (exit 128 + the signal); the kept partial is said last."""
    hold_parts_from(fault_proxy, released, kept_parts)
    if recursive:
        args = [f's3://{bucket}/data/', 'dir', '--recursive']
        destination, shown = out / 'dir' / 'big.bin', 'dir/big.bin'
    else:
        args = [f's3://{bucket}/{KEY}', 'big.bin']
        destination, shown = out / 'big.bin', './big.bin'
    ppcp = start_ppcp(args, out)
    record = destination.with_name('big.bin.ppcp-resume')
    wait_for_parts(record, kept_parts)
    os.killpg(ppcp.pid, signum)
    if signum == signal.SIGINT:
        assert ppcp.wait() == 1
        reported = 'cancelled: ctrl-c received'
    else:
        assert ppcp.wait() == 128 + signum
        reported = f'fatal error: terminated by {signal.Signals(signum).name}'
    lines = ppcp.stderr_lines
    assert lines[-1] == kept_line(kept_parts, shown)
    assert reported in lines
    assert recorded_parts(record) == set(range(kept_parts))
    assert (destination.with_name('big.bin.ppcp-tmp').stat().st_size
            == SIZE)
    assert not destination.exists()
    assert record.read_text().endswith('synced\n')
    released.set()

    result = rerun(config, fault_proxy, out, *args)
    assert_resumed(result, fault_proxy, destination, body, kept_parts)


def test_sigkill_of_the_group_keeps_the_recorded_parts(
        body, bucket, fault_proxy, start_ppcp, config, released, out):
    """No clean-up runs at all: the parts recorded before the kill are
    trusted (the machine has not restarted since), the rest fetched."""
    hold_parts_from(fault_proxy, released, 4)
    ppcp = start_ppcp([f's3://{bucket}/{KEY}', 'big.bin'], out)
    record = out / 'big.bin.ppcp-resume'
    wait_for_parts(record, 4)
    ppcp.wait_for_children(['ppcp-monitor'], at_least=True)
    os.killpg(ppcp.pid, signal.SIGKILL)
    ppcp.process.wait(30)
    wait_until(lambda: all_gone(ppcp.children), 10, 'children still running')
    released.set()
    assert files_under(out) == {'big.bin.ppcp-tmp', 'big.bin.ppcp-resume'}
    assert 'synced' not in record.read_text()

    result = rerun(config, fault_proxy, out, f's3://{bucket}/{KEY}',
                   'big.bin')
    assert_resumed(result, fault_proxy, out / 'big.bin', body, 4)


def test_a_worker_killed_keeps_the_finished_parts(
        body, bucket, fault_proxy, start_ppcp, config, released, out):
    """The OOM killer takes a worker: one fatal line, then what was kept."""
    hold_parts_from(fault_proxy, released, 4)
    ppcp = start_ppcp([f's3://{bucket}/{KEY}', 'big.bin'], out)
    wait_for_parts(out / 'big.bin.ppcp-resume', 4)
    ppcp.wait_for_children(['ppcp-worker-1'], at_least=True)
    [victim] = [pid for pid in ppcp.children
                if process_name(pid) == 'ppcp-worker-1']
    os.kill(victim, signal.SIGKILL)
    assert ppcp.wait() == 1
    fatal, kept = ppcp.stderr_lines
    assert fatal == (
        f'fatal error: Download aborted: worker process 1 (pid {victim}) was '
        'killed by SIGKILL; the downloads in progress were stopped and their '
        'temporary files removed, except the partial downloads kept to '
        'resume.')
    assert kept == kept_line(4)
    released.set()

    result = rerun(config, fault_proxy, out, f's3://{bucket}/{KEY}',
                   'big.bin')
    assert_resumed(result, fault_proxy, out / 'big.bin', body, 4)


@pytest.mark.parametrize('quiet', [False, True], ids=['', 'quiet'])
def test_a_cut_that_outlasts_the_retries_keeps_the_finished_parts(
        quiet, body, bucket, fault_proxy, config, tmp_path):
    """The parts from the sixth on break off after 1000 bytes, every
    time: the download fails with cp's words, the first five parts stay.
    ``--quiet`` silences the line that says so, as the CLI's own."""
    work = tmp_path / 'work'
    work.mkdir()
    for index in range(5, NUM_PARTS):
        fault_proxy.add_rule(Rule(method='GET', key=KEY,
                                  range_start=index * PART,
                                  reset_after_bytes=1000))
    args = [f's3://{bucket}/{KEY}', 'big.bin']
    result = run_aws(['s3', 'ppcp', *args, '--no-progress',
                      *(['--quiet'] if quiet else []),
                      '--endpoint-url', fault_proxy.endpoint_url],
                     config, timeout=120, cwd=work)
    assert result.returncode == 1
    assert files_under(work) == {'big.bin.ppcp-tmp', 'big.bin.ppcp-resume'}
    if quiet:
        assert result.stderr == ''
        return
    failure, kept = output_lines(result.stderr)
    assert failure.startswith(f'download failed: s3://{bucket}/{KEY} to '
                              './big.bin ')
    assert 'Max Retries Exceeded' in failure
    assert kept == kept_line(5)

    result = rerun(config, fault_proxy, work, *args)
    assert_resumed(result, fault_proxy, work / 'big.bin', body, 5)


@pytest.fixture
def interrupted(body, bucket, fault_proxy, start_ppcp, released, out):
    """``ppcp`` of the object to ``out/big.bin``, Ctrl-C'd with its first
    three parts kept."""
    hold_parts_from(fault_proxy, released, 3)
    ppcp = start_ppcp([f's3://{bucket}/{KEY}', 'big.bin'], out)
    wait_for_parts(out / 'big.bin.ppcp-resume', 3)
    os.killpg(ppcp.pid, signal.SIGINT)
    assert ppcp.wait() == 1
    released.set()
    assert files_under(out) == {'big.bin.ppcp-tmp', 'big.bin.ppcp-resume'}
    return out


def starting_over_line(reason):
    return ('Starting the download of {dest} over: ' + reason +
            '; the partial download in {dest}.ppcp-tmp was discarded.')


def test_an_object_replaced_between_the_runs_is_downloaded_again(
        interrupted, s3_client, bucket, fault_proxy, config):
    new_body = os.urandom(SIZE)
    s3_client.put_object(Bucket=bucket, Key=KEY, Body=new_body)
    result = rerun(config, fault_proxy, interrupted, f's3://{bucket}/{KEY}',
                   'big.bin')
    assert result.returncode == 0, result.stderr
    destination = interrupted / 'big.bin'
    assert output_lines(result.stderr) == [
        starting_over_line('the object has changed since (its ETag, size '
                           'or LastModified)').format(dest=destination)]
    assert file_sha256(destination) == sha256(new_body)
    assert requested_bytes(fault_proxy) == SIZE
    assert files_under(interrupted) == {'big.bin'}


def _other_key(text):
    header, rest = text.split('\n', 1)
    fields = json.loads(header)
    fields['key'] = 'data/other.bin'
    return json.dumps(fields) + '\n' + rest


def _other_format(text):
    return text.replace('ppcp-resume/1', 'ppcp-resume/0', 1)


@pytest.mark.parametrize('damage, reason', [
    (lambda text: 'not a record\n' + text, 'its record is unreadable'),
    (lambda text: text[:-3], 'its record is truncated'),
    (lambda text: text + 'part 99 - -\n', 'its record is damaged'),
    (_other_format, 'its record is of another format'),
    (_other_key, 'its record is of another object'),
    (lambda text: '', 'its temp file has no record of its parts'),
], ids=['garbage', 'truncated', 'bad-part', 'other-format', 'other-object',
        'emptied'])
def test_a_damaged_record_starts_over(damage, reason, interrupted, body,
                                      bucket, fault_proxy, config):
    record = interrupted / 'big.bin.ppcp-resume'
    record.write_text(damage(record.read_text()))
    result = rerun(config, fault_proxy, interrupted, f's3://{bucket}/{KEY}',
                   'big.bin')
    assert result.returncode == 0, result.stderr
    destination = interrupted / 'big.bin'
    assert output_lines(result.stderr) == [
        starting_over_line(reason).format(dest=destination)]
    assert file_sha256(destination) == sha256(body)
    assert requested_bytes(fault_proxy) == SIZE
    assert files_under(interrupted) == {'big.bin'}


def test_no_resume_keeps_nothing(body, bucket, fault_proxy, start_ppcp,
                                 released, out):
    """Today's behaviour: the interrupted download leaves nothing."""
    hold_parts_from(fault_proxy, released, 3)
    ppcp = start_ppcp([f's3://{bucket}/{KEY}', 'big.bin', '--no-resume'],
                      out)
    wait_until(lambda: len(fault_proxy.find_requests(method='GET', key=KEY))
               == NUM_PARTS, 60, 'the GETs never all started')
    os.killpg(ppcp.pid, signal.SIGINT)
    assert ppcp.wait() == 1
    assert ppcp.stderr_lines == ['cancelled: ctrl-c received']
    assert files_under(out) == set()


def test_no_resume_leaves_an_earlier_partial_alone(interrupted, body, bucket,
                                                   fault_proxy, config):
    result = rerun(config, fault_proxy, interrupted, f's3://{bucket}/{KEY}',
                   'big.bin', '--no-resume')
    assert result.returncode == 0, result.stderr
    assert output_lines(result.stderr) == []
    assert file_sha256(interrupted / 'big.bin') == sha256(body)
    assert requested_bytes(fault_proxy) == SIZE
    assert files_under(interrupted) == {
        'big.bin', 'big.bin.ppcp-tmp', 'big.bin.ppcp-resume'}


def test_a_second_run_on_the_same_destination_is_refused(
        body, bucket, fault_proxy, start_ppcp, config, released, out):
    hold_parts_from(fault_proxy, released, 3)
    first = start_ppcp([f's3://{bucket}/{KEY}', 'big.bin'], out)
    wait_for_parts(out / 'big.bin.ppcp-resume', 3)
    second = run_aws(['s3', 'ppcp', f's3://{bucket}/{KEY}', 'big.bin',
                      '--no-progress', '--endpoint-url',
                      fault_proxy.endpoint_url], config, timeout=120,
                     cwd=out)
    assert second.returncode == 1
    record = out / 'big.bin.ppcp-resume'
    assert output_lines(second.stderr) == [
        f'download failed: s3://{bucket}/{KEY} to ./big.bin '
        f'{out / "big.bin"} is being downloaded by another run (it holds '
        f'the lock on {record}); the file was not written.']
    released.set()
    assert first.wait(60) == 0, first.stderr
    assert file_sha256(out / 'big.bin') == sha256(body)
    assert files_under(out) == {'big.bin'}


def test_no_overwrite_resumes_a_kept_partial(interrupted, body, bucket,
                                             fault_proxy, config):
    """A kept partial is no existing destination."""
    result = rerun(config, fault_proxy, interrupted, f's3://{bucket}/{KEY}',
                   'big.bin', '--no-overwrite')
    assert_resumed(result, fault_proxy, interrupted / 'big.bin', body, 3)


def test_ppsync_resumes_through_the_same_path(body, bucket, fault_proxy,
                                              start_ppcp, config, released,
                                              out):
    """An interrupted sync leaves the partial; the next sync (with
    --delete: the partial's files are not local files to delete) resumes
    it."""
    hold_parts_from(fault_proxy, released, 6)
    args = [f's3://{bucket}/data/', 'dir', '--delete']
    ppcp = start_ppcp(args, out, command='ppsync')
    wait_for_parts(out / 'dir' / 'big.bin.ppcp-resume', 6)
    os.killpg(ppcp.pid, signal.SIGINT)
    assert ppcp.wait() == 1
    assert ppcp.stderr_lines[-1] == kept_line(6, 'dir/big.bin')
    released.set()
    result = rerun(config, fault_proxy, out, *args, command='ppsync')
    assert_resumed(result, fault_proxy, out / 'dir' / 'big.bin', body, 6)
    assert not [line for line in output_lines(result.stdout)
                if line.startswith('delete:')]


def test_the_parent_killed_leaves_the_partial_to_resume(
        body, bucket, fault_proxy, start_ppcp, config, released, out):
    """The orphaned children exit without removing a resumable download's
    temp file (they do remove the others': test_cli_signals.py)."""
    hold_parts_from(fault_proxy, released, 2)
    ppcp = start_ppcp([f's3://{bucket}/{KEY}', 'big.bin'], out)
    wait_for_parts(out / 'big.bin.ppcp-resume', 2)
    ppcp.wait_for_children(['ppcp-monitor'], at_least=True)
    ppcp.process.kill()
    ppcp.process.wait(30)
    wait_until(lambda: all_gone(ppcp.children), 10, 'orphans still running')
    released.set()
    assert files_under(out) == {'big.bin.ppcp-tmp', 'big.bin.ppcp-resume'}

    result = rerun(config, fault_proxy, out, f's3://{bucket}/{KEY}',
                   'big.bin')
    assert_resumed(result, fault_proxy, out / 'big.bin', body, 2)


@pytest.fixture
def crc_body(s3_client, bucket, config):
    """The object with a full-object CRC32 (a single PUT's)."""
    data = os.urandom(SIZE)
    s3_client.put_object(Bucket=bucket, Key=KEY, Body=data,
                         ChecksumAlgorithm='CRC32')
    return data


def interrupt_after(start_ppcp, fault_proxy, released, out, bucket, parts,
                    *args):
    hold_parts_from(fault_proxy, released, parts)
    ppcp = start_ppcp([f's3://{bucket}/{KEY}', 'big.bin', *args], out)
    wait_for_parts(out / 'big.bin.ppcp-resume', parts)
    os.killpg(ppcp.pid, signal.SIGINT)
    assert ppcp.wait() == 1
    released.set()


@pytest.mark.parametrize('first_run', [['--checksum-mode', 'ENABLED'], []],
                         ids=['kept-with-crcs', 'kept-without-crcs'])
def test_a_resumed_download_is_verified_whole(
        first_run, crc_body, bucket, fault_proxy, start_ppcp, config,
        released, out):
    """The kept parts' CRCs are in the record and combine with the new
    ones; kept without them (the first run did not check), the file is
    read once to check it."""
    interrupt_after(start_ppcp, fault_proxy, released, out, bucket, 4,
                    *first_run)
    crcs = [line.split()[2] for line in
            (out / 'big.bin.ppcp-resume').read_text().splitlines()
            if line.startswith('part ')]
    assert crcs == (['crc32'] * 4 if first_run else ['-'] * 4)
    result = rerun(config, fault_proxy, out, f's3://{bucket}/{KEY}',
                   'big.bin', '--checksum-mode', 'ENABLED')
    assert_resumed(result, fault_proxy, out / 'big.bin', crc_body, 4)


def test_a_failed_check_of_a_resumed_download_keeps_nothing(
        crc_body, bucket, fault_proxy, start_ppcp, config, released, out):
    """The kept parts count in the full-object check by the CRCs recorded
    as their bytes arrived (the file is not read again): a wrong one (here
    written into the record) fails the download, and nothing is kept of a
    file that did not verify."""
    interrupt_after(start_ppcp, fault_proxy, released, out, bucket, 4,
                    '--checksum-mode', 'ENABLED')
    record = out / 'big.bin.ppcp-resume'
    lines = record.read_text().split('\n')
    [index] = [i for i, line in enumerate(lines)
               if line.startswith('part 1 ')]
    crc = int(lines[index].split()[3])
    lines[index] = f'part 1 crc32 {crc ^ 1}'
    record.write_text('\n'.join(lines))
    result = rerun(config, fault_proxy, out, f's3://{bucket}/{KEY}',
                   'big.bin', '--checksum-mode', 'ENABLED')
    assert result.returncode == 1
    [failure] = output_lines(result.stderr)
    assert failure.startswith(f'download failed: s3://{bucket}/{KEY} to '
                              './big.bin ')
    assert 'Expected checksum' in failure
    assert files_under(out) == set()


def test_every_part_kept_is_renamed_without_a_get(interrupted, body, bucket,
                                                  fault_proxy, config):
    """Interrupted after the last part was recorded, before the rename
    (written here as the workers would have): the rerun only checks and
    renames."""
    with open(interrupted / 'big.bin.ppcp-tmp', 'r+b') as f:
        f.seek(3 * PART)
        f.write(body[3 * PART:])
    with open(interrupted / 'big.bin.ppcp-resume', 'a') as f:
        f.writelines(f'part {i} - -\n' for i in range(3, NUM_PARTS))
    result = rerun(config, fault_proxy, interrupted, f's3://{bucket}/{KEY}',
                   'big.bin')
    assert_resumed(result, fault_proxy, interrupted / 'big.bin', body,
                   NUM_PARTS)
    assert fault_proxy.find_requests(method='GET', key=KEY) == []


def test_ppsync_no_resume_lists_a_partial_as_local_files(
        interrupted, body, bucket, fault_proxy, config):
    """As before resume: with --no-resume the two files are local files
    without an object, which --delete deletes."""
    result = rerun(config, fault_proxy, interrupted, f's3://{bucket}/data/',
                   '.', '--delete', '--no-resume', command='ppsync')
    assert result.returncode == 0, result.stderr
    assert sorted(line for line in output_lines(result.stdout)
                  if line.startswith('delete:')) == [
        'delete: ./big.bin.ppcp-resume', 'delete: ./big.bin.ppcp-tmp']
    assert files_under(interrupted) == {'big.bin', 'small.txt'}
    assert file_sha256(interrupted / 'big.bin') == sha256(body)
