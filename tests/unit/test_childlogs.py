"""Which records the children send (only those the parent would write),
and the parent's receiving thread."""
import logging
import multiprocessing
import os
import signal
import threading

import pytest

from awscli_ppdl.childlogs import (
    ChildLogReceiver, parent_log_level, send_records_to_parent)


@pytest.fixture
def clean_loggers():
    names = ('', 'awscli', 'botocore', 'awscli_ppdl', 's3transfer', 'urllib3')
    saved = {n: (logging.getLogger(n).level, list(logging.getLogger(n).handlers))
             for n in names}
    for name in names:
        logger = logging.getLogger(name)
        logger.handlers = []   # pytest's capture handlers take everything
        logger.setLevel(logging.WARNING if name == '' else logging.NOTSET)
    yield
    for name, (level, handlers) in saved.items():
        logging.getLogger(name).setLevel(level)
        logging.getLogger(name).handlers = handlers


def stream_logger(name, handler_level):
    """What botocore's Session.set_stream_logger does (the CLI uses it)."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.DEBUG)
    handler = logging.StreamHandler()
    handler.setLevel(handler_level)
    logger.addHandler(handler)


def test_without_debug_only_warnings_are_sent(clean_loggers, monkeypatch):
    # pytest adds its capture handlers to the root logger for the test body.
    monkeypatch.setattr(logging.getLogger(), 'handlers', [])
    # The CLI without --debug: 'awscli' at DEBUG, but its handler at ERROR.
    stream_logger('awscli', logging.ERROR)
    assert parent_log_level() == logging.WARNING


def test_with_debug_everything_is_sent(clean_loggers, monkeypatch):
    monkeypatch.setattr(logging.getLogger(), 'handlers', [])
    stream_logger('awscli', logging.DEBUG)
    stream_logger('botocore', logging.DEBUG)
    assert parent_log_level() == logging.DEBUG


def _log_then_hold_the_write_lock(child_logging, holding):
    """A child that is killed while it writes a record: it holds the write
    lock that every writer of the queue shares."""
    send_records_to_parent(child_logging)
    logging.getLogger('awscli_ppdl').warning('sent before the kill')
    child_logging.queue.close()
    child_logging.queue.join_thread()
    child_logging.queue._wlock.acquire()
    holding.set()
    threading.Event().wait()


@pytest.mark.parametrize('start_method', ['fork', 'spawn'])
def test_a_child_killed_holding_the_write_lock_does_not_keep_the_thread(
        start_method, caplog):
    caplog.set_level(logging.WARNING, logger='awscli_ppdl')
    context = multiprocessing.get_context(start_method)
    receiver = ChildLogReceiver(context)
    receiver.start()
    holding = context.Event()
    child = context.Process(target=_log_then_hold_the_write_lock,
                            args=(receiver.config, holding))
    child.start()
    assert holding.wait(30)
    os.kill(child.pid, signal.SIGKILL)
    child.join()

    receiver.stop(children_killed=True)

    assert [t for t in threading.enumerate()
            if t.name == 'ppcp-child-logs'] == []
    assert [r.getMessage() for r in caplog.records
            if r.name == 'awscli_ppdl'] == ['sent before the kill']


def test_a_stop_after_a_kill_ends_the_thread_at_once(monkeypatch):
    """After a kill nothing can be put on the queue to stop the thread; it
    is woken instead of noticing at a poll. The join's timeout is an hour
    here, so a thread that waited for it would only be caught by the 30 s
    guard."""
    monkeypatch.setattr('awscli_ppdl.childlogs.STOP_TIMEOUT', 3600)
    receiver = ChildLogReceiver(multiprocessing.get_context('fork'))
    receiver.start()
    stopper = threading.Thread(target=receiver.stop,
                               kwargs={'children_killed': True}, daemon=True)
    stopper.start()
    stopper.join(30)
    assert not stopper.is_alive()
    assert [t for t in threading.enumerate()
            if t.name == 'ppcp-child-logs'] == []
