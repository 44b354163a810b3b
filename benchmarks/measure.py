"""Runs one tool invocation and measures its whole process tree.

What is measured, and how:

* wall time: ``time.perf_counter`` from just before the spawn to the moment
  the tool's own process has exited and every descendant has been reaped.
* CPU seconds: the delta of ``getrusage(RUSAGE_CHILDREN)`` around the run.
  The kernel adds a process's CPU to its parent's children-total when the
  parent waits for it, so this covers the tool and every descendant that was
  waited for.  The harness makes itself a *child subreaper*
  (``PR_SET_CHILD_SUBREAPER``): a descendant orphaned by its parent is
  re-parented to the harness, which reaps it too, so its CPU is not lost.
* peak memory: a sampler thread walks ``/proc`` every 100 ms, finds all live
  descendants of the tool (by parent pid), and sums their resident set
  (``/proc/PID/statm``, the same figure as VmRSS) and their proportional set
  size (``Pss`` in ``/proc/PID/smaps_rollup``).  Summed RSS counts pages
  shared between processes (forked workers share the interpreter) once per
  process; summed PSS splits shared pages between their users and so adds up
  to the tree's real footprint.  The maximum over the samples is reported.
  Processes that live shorter than 100 ms may be missed.
"""
import ctypes
import os
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Optional

SAMPLE_INTERVAL = 0.1
# Reading smaps_rollup walks a process's page tables: at every sample it cost
# the harness ~20 % of a core during a 13-process tool's run, taken from the
# tool it measures. PSS is read at every PSS_EVERY-th sample only.
PSS_EVERY = 5
PAGE_SIZE = os.sysconf('SC_PAGE_SIZE')
PR_SET_CHILD_SUBREAPER = 36
STRAGGLER_GRACE = 10.0


def become_subreaper():
    """Re-parents orphaned descendants to this process (Linux >= 3.4)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


@dataclass
class RunMeasurement:
    wall_s: float
    cpu_user_s: float
    cpu_sys_s: float
    peak_rss_bytes: int
    peak_pss_bytes: int
    peak_processes: int
    samples: int
    returncode: Optional[int]
    timed_out: bool
    stragglers: int  # descendants still alive after the tool exited

    @property
    def cpu_s(self):
        return self.cpu_user_s + self.cpu_sys_s


def _read_ppid(pid):
    try:
        with open(f'/proc/{pid}/stat', 'rb') as f:
            data = f.read()
    except OSError:
        return None
    # The command name may contain spaces and ')': split after the last ')'.
    fields = data[data.rindex(b')') + 2:].split()
    return int(fields[1])


def _read_rss(pid):
    try:
        with open(f'/proc/{pid}/statm', 'rb') as f:
            return int(f.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def _read_pss(pid):
    try:
        with open(f'/proc/{pid}/smaps_rollup', 'rb') as f:
            for line in f:
                if line.startswith(b'Pss:'):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def _children_of(pid):
    """Direct children of ``pid`` from /proc (used for stragglers)."""
    children = []
    for entry in os.listdir('/proc'):
        if entry.isdigit() and _read_ppid(int(entry)) == pid:
            children.append(int(entry))
    return children


class TreeSampler(threading.Thread):
    """Samples the summed RSS/PSS of a process tree until stopped.

    The tree is the tool's pid plus, because the harness is a subreaper,
    any other child of the harness that is not excluded (the S3 server).
    A pid's parent is read once and cached: within one run pids are not
    reused fast enough to matter.
    """

    def __init__(self, root_pid, exclude_pids=()):
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.harness_pid = os.getpid()
        self.exclude = set(exclude_pids) | {self.harness_pid}
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_processes = 0
        self.samples = 0
        self._ppid_cache = {}
        self._stop_event = threading.Event()

    def _tree(self):
        children = {}
        live = set()
        for entry in os.listdir('/proc'):
            if not entry.isdigit():
                continue
            pid = int(entry)
            live.add(pid)
            ppid = self._ppid_cache.get(pid)
            if ppid is None:
                ppid = _read_ppid(pid)
                if ppid is None:
                    continue
                self._ppid_cache[pid] = ppid
            children.setdefault(ppid, []).append(pid)
        roots = [self.root_pid] + [
            pid for pid in children.get(self.harness_pid, ())
            if pid not in self.exclude and pid != self.root_pid]
        tree, stack = [], [pid for pid in roots if pid in live]
        while stack:
            pid = stack.pop()
            if pid in self.exclude:
                continue
            tree.append(pid)
            stack.extend(children.get(pid, ()))
        # Forget dead pids so a reused pid gets its parent read again.
        for pid in list(self._ppid_cache):
            if pid not in live:
                del self._ppid_cache[pid]
        return tree

    def sample(self):
        tree = self._tree()
        rss = sum(_read_rss(pid) for pid in tree)
        self.peak_rss = max(self.peak_rss, rss)
        if self.samples % PSS_EVERY == 0:
            pss = sum(_read_pss(pid) for pid in tree)
            self.peak_pss = max(self.peak_pss, pss)
        self.peak_processes = max(self.peak_processes, len(tree))
        self.samples += 1

    def run(self):
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(SAMPLE_INTERVAL)

    def stop(self):
        self._stop_event.set()
        self.join()


def _reap_stragglers(exclude_pids):
    """Waits for (then kills) descendants left behind by the tool.

    Returns (how many were left behind, how many had to be killed).  Only
    our own children are touched: with the subreaper flag, every orphan of
    the tool is one of them.
    """
    deadline = time.monotonic() + STRAGGLER_GRACE
    found = set()
    killed = 0
    while True:
        pending = [pid for pid in _children_of(os.getpid())
                   if pid not in exclude_pids]
        found.update(pending)
        if not pending:
            return len(found), killed
        for pid in pending:
            try:
                done, _status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if done == 0 and time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                killed += 1
        time.sleep(0.05)


def run_measured(argv, env, log_path, exclude_pids=(), timeout=1800, cwd=None):
    """Runs ``argv`` with stdout/stderr to ``log_path``; returns a
    :class:`RunMeasurement`.  Never raises for a failing tool."""
    exclude = set(exclude_pids)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    timed_out = threading.Event()
    with open(log_path, 'wb') as log:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=cwd,
                                stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT,
                                start_new_session=True)
        sampler = TreeSampler(proc.pid, exclude)
        sampler.start()

        def _on_timeout():
            timed_out.set()
            try:  # The tool's own process group, created just above.
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        watchdog = threading.Timer(timeout, _on_timeout)
        watchdog.start()
        try:
            _pid, status, _usage = os.wait4(proc.pid, 0)
            exited = time.perf_counter()
            proc.returncode = os.waitstatus_to_exitcode(status)
            stragglers, _killed = _reap_stragglers(exclude)
            # Work done by processes the tool left behind is part of its run.
            wall = (time.perf_counter() if stragglers else exited) - started
        finally:
            watchdog.cancel()
            sampler.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return RunMeasurement(
        wall_s=wall,
        cpu_user_s=after.ru_utime - before.ru_utime,
        cpu_sys_s=after.ru_stime - before.ru_stime,
        peak_rss_bytes=sampler.peak_rss,
        peak_pss_bytes=sampler.peak_pss,
        peak_processes=sampler.peak_processes,
        samples=sampler.samples,
        returncode=proc.returncode,
        timed_out=timed_out.is_set(),
        stragglers=stragglers,
    )
