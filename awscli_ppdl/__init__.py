"""aws s3 ppcp: S3 downloads with a process pool, as an AWS CLI v1 plugin.

``import awscli`` comes first on purpose: AWS CLI 1.46 vendors botocore and
s3transfer and aliases the top-level names to its copies only once awscli is
imported. A child started by ``spawn`` or ``forkserver`` imports this package
before anything else, so it lands on the same botocore as the parent.
"""
import awscli  # noqa: F401  (must stay the first import, see above)

__version__ = '0.1.0'


def awscli_initialize(cli):
    """Entry point the AWS CLI calls for ``plugins.ppcp = awscli_ppdl``.

    Only registers a handler: the command module (and the engine) is imported
    when the ``s3`` command table is built, so other ``aws`` commands pay
    nothing for the plugin.
    """
    cli.register('building-command-table.s3', _add_ppcp_command)


def _add_ppcp_command(command_table, session, **kwargs):
    from awscli_ppdl.command import PpcpCommand
    from awscli_ppdl.synccommand import PpsyncCommand

    command_table['ppcp'] = PpcpCommand(session)
    command_table['ppsync'] = PpsyncCommand(session)


_PUBLIC_API = ('ProcessPoolDownloader', 'ProcessTransferConfig',
               'ProcessPoolTransferFuture', 'ProcessPoolTransferMeta',
               'ProcessPoolBrokenError')


def __getattr__(name):
    """``awscli_ppdl.ProcessPoolDownloader`` for library users, imported on
    first use so that registering the plugin stays free."""
    if name in _PUBLIC_API:
        from awscli_ppdl import processpool

        return getattr(processpool, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
