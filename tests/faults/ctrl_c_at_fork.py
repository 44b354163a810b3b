"""``python ctrl_c_at_fork.py N aws-args...``: ``aws`` in which SIGINT
arrives during its N-th fork (counted from 0), as a Ctrl-C from the terminal
would, and then never again.

A signal that arrives while ``fork()`` runs is handled at the first bytecode
after it, which is the first hook ``os.register_at_fork`` registered to run
after a fork in the parent: logging's (it releases its module lock). That
is where a Ctrl-C during start-up fell. The hook below sends the signal
immediately before the fork from C code only (``ctypes``'s
``pthread_kill``, called through ``map`` and ``partial``), so no bytecode
runs before that first hook; registered before logging is imported, it is
the last to run before the fork.
"""
import ctypes
import functools
import itertools
import os
import signal
import sys
import threading

# To the main thread, whichever thread forks: a terminal's SIGINT goes there
# (a signal that reached another thread would not wake the main thread from
# a wait). Signal 0 sends nothing. The children forget the plan: a forked
# child that forks in turn would send it to itself.
_plan = [0] * int(sys.argv[1]) + [signal.SIGINT]
_pthread_kill = ctypes.CDLL(None).pthread_kill
_pthread_kill.argtypes = [ctypes.c_ulong, ctypes.c_int]
_signals = map(_pthread_kill, itertools.repeat(threading.get_ident()), _plan)
os.register_at_fork(before=functools.partial(next, _signals, None),
                    after_in_child=_plan.clear)

import awscli.clidriver  # noqa: E402 (after the hook, see above)

sys.argv[:2] = ['aws']
sys.exit(awscli.clidriver.main())
