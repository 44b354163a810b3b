"""``aws s3 ppcp`` run as a separate process for the signal tests: started
as from a terminal, its output and descendants collected, and everything it
started killed at the end (see the fixtures in conftest.py)."""
import os
import signal
import subprocess
import threading

from tests.helpers import (
    descendant_pids, files_under, output_lines, pid_alive, process_name,
    wait_until)
from tests.s3server import AWS_SCRIPT

MiB = 1024 * 1024
SIZE = 12 * MiB          # three 5 MiB parts
THROTTLE = 256 * 1024    # bytes per second per GET: 20 s for a 5 MiB part


def all_gone(pids):
    return not any(pid_alive(pid) for pid in pids)


def as_from_a_terminal():
    """Run in the child before exec: SIGINT and SIGHUP must reach ``aws`` as
    they do from a terminal, even when these tests run under ``nohup`` or
    in the background (which start it with them ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def as_under_nohup():
    """``nohup aws ...``: SIGHUP ignored from the start."""
    as_from_a_terminal()
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


class Ppcp:
    """``aws s3 ppcp`` in its own session. Threads collect its stdout and
    stderr as they come; every descendant it was seen with is remembered, so
    that orphans can be found (and killed) after the parent is gone."""

    def __init__(self, args, cwd, env, endpoint_url,
                 preexec_fn=as_from_a_terminal, aws=(AWS_SCRIPT,),
                 command='ppcp'):
        """:param aws: the command that runs ``aws``.
        :param command: the ``aws s3`` command (``ppsync``)."""
        self.process = subprocess.Popen(
            [*aws, 's3', command, *map(str, args),
             '--endpoint-url', endpoint_url],
            cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, preexec_fn=preexec_fn)
        self.pid = self.process.pid
        self.children = set()
        self.stdout = bytearray()
        self.stderr = bytearray()
        self._readers = [
            threading.Thread(target=self._read, args=(pipe, into),
                             daemon=True)
            for pipe, into in ((self.process.stdout, self.stdout),
                               (self.process.stderr, self.stderr))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(pipe, into):
        for block in iter(lambda: pipe.read1(65536), b''):
            into += block

    def wait_for_children(self, names, timeout=60, at_least=False):
        """Until the pool's processes (named ``ppcp-...``) among the
        descendants are exactly ``names`` (or include them, ``at_least``);
        the others are multiprocessing's fork server and resource tracker,
        there when workers are started from the lean fork server."""
        def have_them():
            pids = descendant_pids(self.pid)
            self.children.update(pids)
            try:
                found = {name for name in map(process_name, pids)
                         if name.startswith('ppcp-')}
            except OSError:
                return False
            return found >= set(names) if at_least else found == set(names)
        wait_until(have_them, timeout,
                   'the children %r never all ran' % (names,))

    def wait(self, timeout=30):
        """The exit code, once the process and its output have ended."""
        returncode = self.process.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
            assert not reader.is_alive(), 'a child still holds the pipes'
        return returncode

    @property
    def stderr_lines(self):
        return output_lines(self.stderr.decode('utf-8', 'replace'))

    def stop(self):
        self.children.update(descendant_pids(self.pid))
        for pid in [self.pid, *sorted(self.children)]:
            if pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        # Anything else still in the process group this test created.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(30)
        for reader in self._readers:
            reader.join(30)


def big_gets(fault_proxy):
    return fault_proxy.find_requests(method='GET', key='big.bin')


def wait_for_three_gets(fault_proxy):
    wait_until(lambda: len(big_gets(fault_proxy)) == 3, 60,
               'the three ranged GETs never started')


ONE_FILE_CHILDREN = ['ppcp-monitor', 'ppcp-submitter', 'ppcp-worker-0',
                     'ppcp-worker-1', 'ppcp-worker-2']


def temp_files(directory):
    return [p for p in files_under(directory) if p.endswith('.ppcp-tmp')]


def wait_for_one_temp_file(directory):
    """A GET's worker creates its temp file once the response arrives,
    a moment after the proxy has seen the request."""
    wait_until(lambda: len(temp_files(directory)) == 1, 30,
               'the temp file never appeared')


def kill_worker_and_expect_one_fatal_error(ppcp, number):
    """SIGKILL a worker, as the OOM killer would: the command stops with one
    fatal error that names it (as ``aws s3 cp`` reports what stops it, not
    a line per file in flight) and exits 1."""
    kill_child_and_expect_one_fatal_error(
        ppcp, f'ppcp-worker-{number}', f'worker process {number}')


def kill_child_and_expect_one_fatal_error(ppcp, name, described_as):
    """SIGKILL the child called ``name``; the one fatal line calls it
    ``described_as``."""
    [victim] = [p for p in ppcp.children if process_name(p) == name]
    os.kill(victim, signal.SIGKILL)
    assert ppcp.wait() == 1
    assert ppcp.stderr_lines == [
        f'fatal error: Download aborted: {described_as} (pid {victim}) was '
        'killed by SIGKILL; the downloads in progress were stopped and their '
        'temporary files removed.']
