"""Which records the children send: only those the parent would write."""
import logging

import pytest

from awscli_ppdl.childlogs import parent_log_level


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
