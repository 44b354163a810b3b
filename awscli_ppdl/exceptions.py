"""The engine's own exceptions, light enough for the command to import
before the engine is loaded."""
from s3transfer.exceptions import CancelledError, FatalError


class ProcessPoolBrokenError(FatalError):
    """A child process died; the transfers in flight could not complete.

    It ends the whole command, not one download, so it is s3transfer's
    ``FatalError``: the AWS CLI prints it once as ``fatal error: ...``, as
    for any error that stops ``aws s3 cp``, instead of one ``download
    failed`` line per file that was still queued."""


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM or SIGHUP: stop as for Ctrl-C (a
    KeyboardInterrupt, so no ``except Exception`` swallows it), but report
    the downloads in flight as failed rather than cancelled by the user."""


def cancel_exception_type(exc_value):
    """What the downloads in flight fail with when ``exc_value`` stops them,
    as s3transfer decides: Ctrl-C cancels, anything else is fatal."""
    if isinstance(exc_value, KeyboardInterrupt) and not isinstance(
            exc_value, Terminated):
        return CancelledError
    return FatalError
