"""The thread that starts the workers after the first."""
import threading

import pytest

from awscli_ppdl import pool


@pytest.mark.timeout(30)
def test_stop_does_not_wait_for_ever_for_a_start_that_hangs(monkeypatch):
    monkeypatch.setattr(pool, 'JOIN_TIMEOUT', 0.1)
    starting = threading.Event()
    release = threading.Event()

    def start_one():
        starting.set()
        release.wait()

    starter = pool.WorkerStarter(start_one)
    starter.want(2)
    assert starting.wait(10), 'the starter never started a worker'
    starter.stop()
    assert starter._thread.is_alive()
    release.set()
    starter._thread.join(10)
    assert not starter._thread.is_alive()
