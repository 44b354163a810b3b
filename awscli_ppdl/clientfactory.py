"""A picklable recipe for the S3 client each child process builds for itself.

Botocore sessions and clients cannot cross a process boundary, so the parent
hands its children a ``ClientFactory``: plain values only. When it is built
from the CLI's session, credentials are resolved once, in the parent (an MFA,
SSO or ``credential_process`` prompt happens once, not once per process), and
everything the CLI's flags and profile decided is carried explicitly: region,
endpoint, TLS verification, retries, timeouts, signing, user agent.
"""
import dataclasses
from typing import Optional

from awscli_ppdl.credentials import (
    FrozenCredentials, freeze, parent_credential_resolver)

PROCESS_USER_AGENT = 'ppcp'

# What botocore itself defaults to per retry mode when max_attempts is unset.
DEFAULT_TOTAL_ATTEMPTS = {'legacy': 5, 'standard': 3, 'adaptive': 3}

# The botocore loader (parsed service models, endpoint rules) and sessions
# that clients built in this process share. Under ``fork`` a child inherits
# them ready and builds its client in ~10 ms instead of ~100 ms of CPU;
# under ``spawn``/``forkserver`` they start empty in each child.
_shared_loader = None
_sessions = {}

_S3_PROFILE_KEYS = ('addressing_style', 'use_accelerate_endpoint',
                    'use_dualstack_endpoint', 'payload_signing_enabled',
                    'us_east_1_regional_endpoint')


@dataclasses.dataclass(frozen=True)
class ClientFactory:
    """Everything needed to create an equivalent S3 client in another process.

    ``client_kwargs`` are keyword arguments of ``Session.create_client`` (the
    seed design's API); ``config_options`` are ``botocore.config.Config``
    keyword arguments, kept as a dict so no botocore object is pickled.
    """

    client_kwargs: dict = dataclasses.field(default_factory=dict)
    config_options: dict = dataclasses.field(default_factory=dict)
    credentials: Optional[FrozenCredentials] = None
    profile: Optional[str] = None
    user_agent: Optional[tuple] = None  # (name, version, extra)

    @classmethod
    def from_client_kwargs(cls, client_kwargs=None):
        """The seed's ``ProcessPoolDownloader(client_kwargs=...)`` form."""
        client_kwargs = dict(client_kwargs or {})
        config = client_kwargs.pop('config', None)
        options = {}
        if config is not None:
            options = dict(config._user_provided_options)
        credentials = None
        if client_kwargs.get('aws_access_key_id') is not None:
            # Keys given outright are the credentials, as they are in the
            # CLI's factory: the workers can sign without a client.
            credentials = FrozenCredentials(
                client_kwargs.pop('aws_access_key_id'),
                client_kwargs.pop('aws_secret_access_key', None),
                client_kwargs.pop('aws_session_token', None))
        return cls(client_kwargs=client_kwargs,
                   config_options=_with_process_user_agent(options),
                   credentials=credentials)

    @classmethod
    def from_cli_session(cls, session, region, endpoint_url, verify):
        """Capture what ``aws s3 cp`` would use for its client, once."""
        options = {}
        default_config = session.get_default_client_config()
        if default_config is not None:
            # --no-sign-request, --cli-read-timeout, --cli-connect-timeout
            options.update(default_config._user_provided_options)
        options['retries'] = retries_from_session(session)
        s3_profile_config = session.get_scoped_config().get('s3', {})
        if isinstance(s3_profile_config, dict):
            s3_options = {k: v for k, v in s3_profile_config.items()
                          if k in _S3_PROFILE_KEYS}
            if s3_options:
                options['s3'] = s3_options
        share_loader(session.get_component('data_loader'))
        credentials = None
        if not _is_unsigned(options):
            resolved = session.get_credentials()
            if resolved is not None:
                credentials = freeze(resolved)
        return cls(
            client_kwargs={'region_name': region,
                           'endpoint_url': endpoint_url,
                           'verify': verify},
            config_options=_with_process_user_agent(options),
            credentials=credentials,
            profile=session.profile,
            user_agent=(session.user_agent_name, session.user_agent_version,
                        session.user_agent_extra),
        )

    def with_resolved_credentials(self):
        """This factory with the credentials its clients would each resolve
        (the seed's API without keys), resolved once, here; and the botocore
        credentials they came from, for the parent to refresh. As the CLI's
        factory does: no child resolves credentials itself."""
        if self.credentials is not None or self.config_options.get(
                'signature_version') == 'UNSIGNED':
            return self, None
        resolved = self._new_session().get_credentials()
        if resolved is None:
            return self, None
        return dataclasses.replace(self, credentials=freeze(resolved)), \
            resolved

    def create_client(self, current_credentials=None):
        """Build the client; called once per child process.

        :param current_credentials: a callable returning the parent's latest
            ``FrozenCredentials``; credentials that expire are refreshed
            through it.
        """
        from botocore.config import Config

        kwargs = dict(self.client_kwargs)
        expiring = (self.credentials is not None
                    and self.credentials.expiry_time is not None
                    and current_credentials is not None)
        if expiring:
            session = self._new_session()
            session.register_component(
                'credential_provider', parent_credential_resolver(
                    self.credentials, current_credentials))
        else:
            session = self._session()
        if self.credentials is not None and not expiring:
            kwargs.update(
                aws_access_key_id=self.credentials.access_key,
                aws_secret_access_key=self.credentials.secret_key,
                aws_session_token=self.credentials.token,
            )
        options = dict(self.config_options)
        if options.get('signature_version') == 'UNSIGNED':
            from botocore import UNSIGNED

            options['signature_version'] = UNSIGNED
        return session.create_client('s3', config=Config(**options), **kwargs)

    def prepare_for_fork(self):
        """Build the session and parse the S3 model once, in the parent, so
        that forked children inherit them instead of each doing it."""
        self._session()
        _shared_loader.load_service_model('s3', 'service-2')
        _shared_loader.load_service_model('s3', 'endpoint-rule-set-1')
        _shared_loader.load_data('partitions')

    def _session(self):
        key = (self.profile, self.user_agent)
        session = _sessions.get(key)
        if session is None:
            session = _sessions[key] = self._new_session()
        return session

    def _new_session(self):
        global _shared_loader
        import botocore.session

        session = botocore.session.Session(profile=self.profile)
        if _shared_loader is None:
            _shared_loader = session.get_component('data_loader')
        else:
            session.register_component('data_loader', _shared_loader)
        if self.user_agent is not None:
            (session.user_agent_name, session.user_agent_version,
             session.user_agent_extra) = self.user_agent
        # The children read lengths, ranges and ETags from responses, and
        # only a first GET's Last-Modified (``sizing``, which parses the
        # header's text itself): leaving timestamps unparsed saves a
        # dateutil parse (~0.3 ms of CPU) per GET.
        session.get_component('response_parser_factory') \
            .set_parser_defaults(timestamp_parser=str)
        return session


def share_loader(loader):
    """Let the clients of this process (and of children forked from it)
    reuse ``loader``, e.g. the CLI's, whose S3 model is already parsed."""
    global _shared_loader
    _shared_loader = loader


def retries_from_session(session):
    """The CLI's retry mode and attempts, made explicit for the children.

    The CLI's defaults (its vendored botocore) differ from a standalone
    botocore's, so nothing is left to a child's own defaults. The profile's
    ``max_attempts`` counts attempts, as Config's ``total_max_attempts`` does
    (Config's ``max_attempts`` would count retries).
    """
    mode = session.get_config_variable('retry_mode') or 'legacy'
    attempts = session.get_config_variable('max_attempts')
    if attempts is None:
        attempts = DEFAULT_TOTAL_ATTEMPTS.get(mode, 3)
    return {'mode': mode, 'total_max_attempts': int(attempts)}


def _is_unsigned(options):
    from botocore import UNSIGNED

    return options.get('signature_version') is UNSIGNED


def _with_process_user_agent(options):
    """Tag requests so server logs tell ppcp's GETs apart; keep it picklable."""
    from botocore import UNSIGNED

    options = dict(options)
    extra = options.get('user_agent_extra')
    options['user_agent_extra'] = (
        PROCESS_USER_AGENT if not extra else f'{extra} {PROCESS_USER_AGENT}')
    if options.get('signature_version') is UNSIGNED:
        # UNSIGNED is a singleton; pickling would make a copy that botocore
        # no longer recognises, so it travels as a string.
        options['signature_version'] = 'UNSIGNED'
    return options
