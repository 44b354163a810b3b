"""The README's first command: a real download that cleans up after itself."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_demo_verifies_its_download_and_leaves_nothing_in_tmpdir(tmp_path):
    env_tmp = tmp_path / 'tmp'
    env_tmp.mkdir()
    result = subprocess.run(
        [sys.executable, str(REPO / 'scripts' / 'demo.py')],
        capture_output=True, text=True, timeout=120,
        env={'PATH': str(Path(sys.executable).parent) + ':/usr/bin:/bin',
             'TMPDIR': str(env_tmp)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'All 4 files verified (sha256)' in result.stdout
    assert list(env_tmp.iterdir()) == []
