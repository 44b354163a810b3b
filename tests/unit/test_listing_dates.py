"""The listing's timestamps: the CLI's parser, only faster for S3's form."""
import awscli  # noqa: F401  (before botocore: selects the vendored copy)

import time

import pytest
from awscli.customizations.s3.utils import _date_parser

from awscli_ppdl.command import _listing_date_parser

STAMPS = [
    '2025-11-25T10:22:31.000Z', '2025-11-25T10:22:31.123Z',
    '2025-11-25T10:22:31Z', '2025-11-25T10:22:31.123456Z',
    '2025-03-30T01:30:00.000Z', '2025-10-26T00:59:59.999Z',  # Berlin DST
    '2024-02-29T23:59:59.000Z', '1999-12-31T23:59:59.500Z',
    # Other forms go to the CLI's parser.
    '2025-11-25T10:22:31+02:00', 'Tue, 25 Nov 2025 10:22:31 GMT',
    '2025-11-25 10:22:31Z',
]


@pytest.fixture(params=['UTC', 'America/New_York', 'Europe/Berlin'])
def local_zone(request, monkeypatch):
    monkeypatch.setenv('TZ', request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize('stamp', STAMPS)
def test_the_same_datetime_as_the_clis_parser(stamp, local_zone):
    _listing_date_parser.cache_clear()
    expected = _date_parser(stamp)
    parsed = _listing_date_parser(stamp)
    # Not ==: two tzlocal() objects are different zones to Python, and a
    # time in a DST fold never compares equal across zones (PEP 495).
    assert parsed.replace(tzinfo=None) == expected.replace(tzinfo=None)
    assert parsed.fold == expected.fold
    assert parsed.timestamp() == expected.timestamp()
    assert parsed.utcoffset() == expected.utcoffset()
    assert parsed.isoformat() == expected.isoformat()


def test_a_malformed_stamp_fails_as_the_clis_parser_does():
    with pytest.raises(ValueError):
        _date_parser('2025-13-45T10:22:31.000Z')
    with pytest.raises(ValueError):
        _listing_date_parser('2025-13-45T10:22:31.000Z')
