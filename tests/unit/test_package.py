"""The package's public names, and that registering the plugin stays free."""
import subprocess
import sys

PROBE = '''
import sys, awscli_ppdl
loaded_at_import = 'awscli_ppdl.processpool' in sys.modules
from awscli_ppdl import ProcessPoolDownloader, ProcessTransferConfig
from awscli_ppdl.processpool import ProcessPoolDownloader as Original
print(loaded_at_import, ProcessPoolDownloader is Original)
'''


def test_the_engine_is_exported_but_imported_only_on_first_use():
    result = subprocess.run([sys.executable, '-c', PROBE],
                            capture_output=True, text=True, check=True)
    assert result.stdout.split() == ['False', 'True']


def test_unknown_names_still_raise_attribute_error():
    import awscli_ppdl

    try:
        awscli_ppdl.NoSuchThing
    except AttributeError as error:
        assert 'NoSuchThing' in str(error)
    else:
        raise AssertionError('expected AttributeError')
