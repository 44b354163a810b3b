"""CredentialRefresher: when the parent refreshes, and what children get."""
import datetime

import awscli  # noqa: F401  (before botocore: selects the vendored copy)
from botocore.credentials import Credentials, RefreshableCredentials

from awscli_ppdl import credentials as credentials_module
from awscli_ppdl.credentials import (
    CredentialRefresher, FrozenCredentials, refreshable_from_parent)
from tests.helpers import credentials_only_in_the_environment

NOW = 1_800_000_000.0


class Clock:
    def __init__(self):
        self.now = NOW

    def time(self):
        return self.now


def expiring_credentials(lifetime, calls, clock):
    def fetch():
        calls.append(1)
        return {'access_key': f'AKID{len(calls)}', 'secret_key': 's',
                'token': 't',
                'expiry_time': utc(clock.now + lifetime).isoformat()}
    first = fetch()
    return RefreshableCredentials(
        first['access_key'], first['secret_key'], first['token'],
        utc(clock.now + lifetime), fetch, 'test',
        time_fetcher=lambda: utc(clock.now))


def utc(timestamp):
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)


def test_short_lived_credentials_are_refreshed_at_half_their_life(
        monkeypatch):
    calls, published, clock = [], [], Clock()
    creds = expiring_credentials(10, calls, clock)
    monkeypatch.setattr(credentials_module.time, 'time', clock.time)
    refresher = CredentialRefresher(creds, published.append)
    # Inside botocore's mandatory window from the start: freezing them
    # fetched fresh ones already.
    assert [p.access_key for p in published] == ['AKID2']
    assert published[0].expiry_time == NOW + 10
    clock.now = NOW + 4.9
    refresher.refresh_if_due()
    assert len(published) == 1
    clock.now = NOW + 5.1
    refresher.refresh_if_due()
    assert [p.access_key for p in published] == ['AKID2', 'AKID3']
    refresher.refresh_if_due()
    assert len(published) == 2
    assert len(calls) == 3


def test_hour_long_credentials_are_refreshed_inside_botocores_window(
        monkeypatch):
    """botocore refreshes only within 15 minutes of expiry; asking earlier
    would return the same credentials."""
    calls, published, clock = [], [], Clock()
    creds = expiring_credentials(3600, calls, clock)
    monkeypatch.setattr(credentials_module.time, 'time', clock.time)
    refresher = CredentialRefresher(creds, published.append)
    clock.now = NOW + 3600 - 15 * 60 + 29
    refresher.refresh_if_due()
    assert len(published) == 1
    clock.now = NOW + 3600 - 15 * 60 + 31
    refresher.refresh_if_due()
    assert [p.access_key for p in published] == ['AKID1', 'AKID2']


def test_static_credentials_are_never_refreshed():
    published = []
    refresher = CredentialRefresher(Credentials('AKID', 'secret'),
                                    published.append)
    refresher.refresh_if_due()
    assert published == [FrozenCredentials('AKID', 'secret', None, None)]


def test_a_child_refreshes_from_what_the_parent_published():
    initial = FrozenCredentials('OLD', 's', 't', 0.0)   # long expired
    latest = FrozenCredentials('NEW', 's2', 't2', 4_000_000_000.0)
    creds = refreshable_from_parent(initial, lambda: latest)
    frozen = creds.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        'NEW', 's2', 't2')


def test_the_seeds_client_kwargs_get_credentials_resolved_once(
        monkeypatch, tmp_path):
    from botocore import UNSIGNED
    from botocore.config import Config

    from awscli_ppdl.clientfactory import ClientFactory

    credentials_only_in_the_environment(monkeypatch, tmp_path, 'AKIDENV',
                                        'env-secret')
    factory = ClientFactory.from_client_kwargs({'region_name': 'us-east-1'})
    resolved_factory, resolved = factory.with_resolved_credentials()
    assert resolved_factory.credentials == FrozenCredentials(
        'AKIDENV', 'env-secret')
    assert resolved.access_key == 'AKIDENV'
    # Keys given outright, or no signing at all: nothing to resolve.
    given = ClientFactory.from_client_kwargs(
        {'aws_access_key_id': 'AKIDGIVEN', 'aws_secret_access_key': 'x'})
    assert given.with_resolved_credentials() == (given, None)
    assert given.credentials == FrozenCredentials('AKIDGIVEN', 'x')
    unsigned = ClientFactory.from_client_kwargs(
        {'config': Config(signature_version=UNSIGNED)})
    assert unsigned.with_resolved_credentials() == (unsigned, None)
