"""A test-only AWS CLI plugin: the engine's timers made an hour long.

Loaded through the profile's ``[plugins]`` section, as ``awscli_ppdl``
itself is (``tests.functional.test_no_timer_waits``; the ``aws`` process
finds it on the PYTHONPATH that ``make_aws_env`` sets), it sets every poll
interval, batch age, supervision tick and join timeout of the engine to an
hour in the CLI process, before any child starts. The children of a
one-file download are forked (``startmethods``: no lean fork server for a
single worker), so they inherit the values; each worker writes the batch
age it runs with to the file named by ``HOUR_LONG_TIMERS_MARKER``, so the
test knows the values reached it. A download that still ends cannot have
waited for any of them to run out.
"""
import importlib
import os

HOUR = 3600.0
TIMERS = {
    'awscli_ppdl.worker': (
        'PROGRESS_INTERVAL', 'REPORT_DELAY'),
    'awscli_ppdl.processpool': ('FULL_QUEUE_RECHECK',),
    'awscli_ppdl.collector': ('SUPERVISION_INTERVAL', 'STOP_TIMEOUT'),
    'awscli_ppdl.pool': ('TERMINATE_GRACE', 'JOIN_TIMEOUT',
                         'MONITOR_EXIT_WAIT'),
    'awscli_ppdl.lifecycle': ('STREAM_STOP_TIMEOUT',),
    'awscli_ppdl.childlogs': ('STOP_TIMEOUT',),
}
MARKER = 'HOUR_LONG_TIMERS_MARKER'


def awscli_initialize(cli):
    for module_name, names in TIMERS.items():
        module = importlib.import_module(module_name)
        for name in names:
            # A timer that moved elsewhere must not keep its value
            # silently: the test would pass without testing it.
            if not isinstance(getattr(module, name, None), (int, float)):
                raise AttributeError(
                    f'{module_name}.{name} is no longer a timer constant: '
                    f'update {__name__}.TIMERS')
            setattr(module, name, HOUR)
    pool = importlib.import_module('awscli_ppdl.pool')
    if not callable(getattr(pool, 'run_worker', None)):
        raise AttributeError('awscli_ppdl.pool.run_worker moved: '
                             f'update {__name__}')
    pool.run_worker = run_worker
    _mark('parent')


def run_worker(*args, **kwargs):
    """The worker's body, after saying which batch age it runs with."""
    from awscli_ppdl import worker

    _mark(f'worker REPORT_DELAY={worker.REPORT_DELAY}')
    return worker.run_worker(*args, **kwargs)


def _mark(line):
    path = os.environ.get(MARKER)
    if path:
        with open(path, 'a') as f:
            f.write(line + '\n')
