"""An SSE-C key given on the command line shows in ``ps`` for ``aws`` only,
as for ``aws s3 cp``: the pool's children, forked with the parent's argv
memory, replace it with their name."""
import os

import pytest

from tests.faults.cli_process import (
    ONE_FILE_CHILDREN, SIZE, THROTTLE, wait_for_three_gets)
from tests.faults.proxy import Rule
from tests.helpers import process_name

KEY = 'k3y-0f-thirty-two-bytes-0123456'


def command_line(pid):
    with open(f'/proc/{pid}/cmdline', 'rb') as f:
        return f.read()


@pytest.mark.parametrize('processes', [3, 4], ids=['forked', 'lean'])
def test_no_child_shows_the_sse_c_key(processes, start_ppcp, s3_client,
                                      bucket, fault_proxy, out):
    """Three workers are forked with the monitor and the submitter; with
    four, the later ones come from the lean fork server (whose own command
    line is multiprocessing's)."""
    s3_client.put_object(Bucket=bucket, Key='big.bin', Body=os.urandom(SIZE),
                         SSECustomerAlgorithm='AES256', SSECustomerKey=KEY)
    fault_proxy.add_rule(Rule(method='GET', key='big.bin', has_range=True,
                              throttle_bytes_per_second=THROTTLE))
    ppcp = start_ppcp([f's3://{bucket}/big.bin', 'big.bin', '--sse-c',
                       'AES256', '--sse-c-key', KEY], out,
                      processes=processes)
    wait_for_three_gets(fault_proxy)
    ppcp.wait_for_children(ONE_FILE_CHILDREN)
    assert KEY.encode() in command_line(ppcp.pid)
    lines = {pid: command_line(pid) for pid in ppcp.children}
    assert [line for line in lines.values() if KEY.encode() in line] == []
    assert {process_name(pid): line.rstrip(b'\0')
            for pid, line in lines.items()
            if process_name(pid).startswith('ppcp-')} == {
        name: name.encode() for name in ONE_FILE_CHILDREN}
