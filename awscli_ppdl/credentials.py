"""Credentials that outlive a download: refreshed in the parent, shared.

Credentials are resolved once, in the parent (an SSO or MFA prompt, a
``credential_process`` or an assume-role call happens there, once), and
cross to the children as ``FrozenCredentials``, plain values. When they
expire (assume-role, SSO, ``credential_process``, instance metadata), the
parent refreshes them a while before they do and publishes the new ones in
the transfer monitor; each child's botocore asks the monitor for them when
its own copy nears expiry. No child ever resolves credentials itself, and the
source is asked once per refresh, not once per process.

This module imports nothing of the package: ``clientfactory`` builds on it.
"""
import dataclasses
import datetime
import time
from typing import Optional

# botocore refreshes credentials only inside this window before they expire
# (its "advisory" timeout); the parent asks a little inside it, or at half
# the lifetime of credentials that live less than twice that.
ADVISORY_REFRESH_SECONDS = 15 * 60
REFRESH_MARGIN_SECONDS = 30


@dataclasses.dataclass(frozen=True)
class FrozenCredentials:
    """Credentials as plain values, for children and the monitor: botocore's
    own do not pickle (refreshable ones hold their refresh callable and a
    lock)."""

    access_key: str
    secret_key: str
    token: Optional[str] = None
    expiry_time: Optional[float] = None  # seconds since the epoch


def freeze(credentials):
    """A picklable copy of botocore credentials, with their expiry if any."""
    frozen = credentials.get_frozen_credentials()
    expiry = getattr(credentials, '_expiry_time', None)
    return FrozenCredentials(
        frozen.access_key, frozen.secret_key, frozen.token,
        None if expiry is None else expiry.timestamp())


class CredentialRefresher:
    """In the parent: refresh expiring credentials, publish them to children."""

    def __init__(self, credentials, publish):
        self._credentials = credentials
        self._publish = publish
        self._current = freeze(credentials)
        self._refresh_at = self._schedule(self._current)
        publish(self._current)

    @property
    def current(self):
        return self._current

    def refresh_if_due(self):
        if self._refresh_at is None or time.time() < self._refresh_at:
            return
        self._current = freeze(self._credentials)
        self._refresh_at = self._schedule(self._current)
        self._publish(self._current)

    @staticmethod
    def _schedule(frozen):
        if frozen.expiry_time is None:
            return None
        now = time.time()
        lifetime = frozen.expiry_time - now
        refresh_before = min(
            ADVISORY_REFRESH_SECONDS - REFRESH_MARGIN_SECONDS, lifetime / 2)
        return now + max(0.0, lifetime - refresh_before)


def signing_credentials(frozen, fetch_current):
    """In a child: botocore credentials to sign with, from the parent's
    (those that expire are refreshed by asking the parent)."""
    if frozen.expiry_time is None:
        from botocore.credentials import Credentials

        return Credentials(frozen.access_key, frozen.secret_key, frozen.token)
    return refreshable_from_parent(frozen, fetch_current)


def parent_credential_resolver(initial, current_credentials):
    """In a child: a botocore credential resolver whose one provider is the
    parent, for a client whose credentials expire."""
    from botocore.credentials import CredentialProvider, CredentialResolver

    class ParentCredentialProvider(CredentialProvider):
        METHOD = 'ppcp-parent'

        def load(self):
            return refreshable_from_parent(initial, current_credentials)

    return CredentialResolver([ParentCredentialProvider()])


def refreshable_from_parent(frozen, fetch_current):
    """In a child: credentials botocore refreshes by asking the parent."""
    from botocore.credentials import RefreshableCredentials

    def refresh():
        return _metadata(fetch_current())

    return RefreshableCredentials.create_from_metadata(
        _metadata(frozen), refresh_using=refresh, method='ppcp-parent')


def _metadata(frozen):
    expiry = datetime.datetime.fromtimestamp(frozen.expiry_time,
                                             datetime.timezone.utc)
    return {'access_key': frozen.access_key, 'secret_key': frozen.secret_key,
            'token': frozen.token, 'expiry_time': expiry.isoformat()}
