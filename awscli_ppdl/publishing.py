"""What the parent publishes in the monitor for its children: credentials
that it refreshes before they expire, and each bucket's GET template.

Both are learned once, in the parent, instead of once per child: the
credential source is asked once per refresh, and a bucket's request is built
and signed by botocore once (``getobject.TemplateLearner``).
"""
import logging
import threading

from awscli_ppdl.credentials import CredentialRefresher
from awscli_ppdl.getobject import TemplateLearner

logger = logging.getLogger(__name__)


class Publisher:
    def __init__(self, monitor, client, credentials, frozen_credentials):
        """
        :param client: the parent's client, as the workers would build it;
            None when there are no credentials to sign templates with.
        :param credentials: the botocore credentials ``frozen_credentials``
            were frozen from, refreshed when they expire.
        """
        self._monitor = monitor
        self._template_learner = (None if client is None
                                  else TemplateLearner(client))
        # Held while a template is learned: a second submission for the
        # same bucket waits for it, not for anything else of the parent's.
        self._learning = threading.Lock()
        self._buckets_learned = set()
        self._credential_refresher = None
        if (credentials is not None and frozen_credentials is not None
                and frozen_credentials.expiry_time is not None):
            self._credential_refresher = CredentialRefresher(
                credentials, monitor.publish_credentials)

    def publish_template(self, bucket):
        """The first time a bucket is asked for: the request its workers
        send, published before any of its jobs can reach a worker."""
        if self._template_learner is None:
            return
        with self._learning:
            if bucket in self._buckets_learned:
                return
            self._buckets_learned.add(bucket)
            template = self._template_learner.learn(bucket)
            if template is not None:
                self._monitor.publish_template(bucket, template)

    def refresh_credentials(self):
        """Publish fresh credentials if they are due (a cheap check)."""
        if self._credential_refresher is None:
            return
        try:
            self._credential_refresher.refresh_if_due()
        except Exception:
            # The children go on with what they have; if that expires, their
            # requests fail with the server's ExpiredToken, which is printed.
            logger.warning('Could not refresh the credentials', exc_info=True)
