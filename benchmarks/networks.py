"""The networks the tools download over, each measured in the same run.

* ``loopback``: plain HTTP straight to the server on 127.0.0.1: what the
  tools' own CPU costs, with nothing between them and the server.
* ``https``: the same over the server's own HTTPS (a self-signed
  certificate every tool is told to trust).
* ``link``: through ``wan.py`` with neither delay nor rate limit: what the
  link costs by itself (its CPU is measured), to set beside the WAN rows.
* ``wan10``, ``wan30``, ``wan80`` (any ``wanN``): through ``wan.py`` with
  N ms added to every byte received and 400 Mbit/s per connection: a
  download from a region away, where the requests in flight set the pace.

Each has the data sets and tools that answer its question; ``--datasets``
and ``--tools`` narrow them.
"""
import re
from dataclasses import dataclass

WAN_RATE_MBIT = 400
PEER_TOOLS = ('ppcp', 'cp', 's5cmd', 'curl')


@dataclass(frozen=True)
class Network:
    name: str
    label: str
    scheme: str
    through_link: bool
    delay_ms: float
    rate_mbit: float
    dataset_names: tuple
    tool_names: tuple  # None: the default tools

    def describe_link(self):
        if not self.through_link:
            return None
        return (f'`benchmarks/wan.py` in front of the server: '
                f'{self.delay_ms:g} ms added to every byte received, '
                + (f'{self.rate_mbit:g} Mbit/s' if self.rate_mbit else 'no')
                + ' limit per connection')


def _wan(delay_ms):
    return Network(f'wan{delay_ms}', f'WAN: {delay_ms} ms, '
                   f'{WAN_RATE_MBIT} Mbit/s per connection', 'http', True,
                   delay_ms, WAN_RATE_MBIT, ('small2k', 'large'), PEER_TOOLS)


NETWORKS = {network.name: network for network in (
    Network('loopback', 'Loopback, plain HTTP', 'http', False, 0, 0,
            ('large', 'mixed', 'small', 'tiny'), None),
    Network('https', 'HTTPS on loopback', 'https', False, 0, 0,
            ('large', 'mixed'), PEER_TOOLS),
    Network('link', 'Through the link with no delay or rate limit', 'http',
            True, 0, 0, ('small2k', 'large'), PEER_TOOLS),
    _wan(10), _wan(30), _wan(80),
)}
NETWORK_NAMES = tuple(NETWORKS)


def network_by_name(name):
    """The network called ``name`` (``wanN`` for any N ms), or None."""
    if name in NETWORKS:
        return NETWORKS[name]
    match = re.fullmatch(r'wan([1-9][0-9]*)', name)
    return _wan(int(match[1])) if match else None
