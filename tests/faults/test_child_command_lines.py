"""An SSE-C key given on the command line shows in ``ps`` for ``aws`` only,
as for ``aws s3 cp``: the pool's children, forked with the parent's argv
memory, replace it with their name."""
import os

from tests.faults.cli_process import (
    ONE_FILE_CHILDREN, SIZE, THROTTLE, wait_for_three_gets)
from tests.faults.proxy import Rule
from tests.helpers import process_name

KEY = 'k3y-0f-thirty-two-bytes-0123456'


def command_line(pid):
    with open(f'/proc/{pid}/cmdline', 'rb') as f:
        return f.read()


def test_no_child_shows_the_sse_c_key(start_ppcp, s3_client, bucket,
                                      fault_proxy, out):
    s3_client.put_object(Bucket=bucket, Key='big.bin', Body=os.urandom(SIZE),
                         SSECustomerAlgorithm='AES256', SSECustomerKey=KEY)
    fault_proxy.add_rule(Rule(method='GET', key='big.bin', has_range=True,
                              throttle_bytes_per_second=THROTTLE))
    ppcp = start_ppcp([f's3://{bucket}/big.bin', 'big.bin', '--sse-c',
                       'AES256', '--sse-c-key', KEY], out)
    wait_for_three_gets(fault_proxy)
    ppcp.wait_for_children(ONE_FILE_CHILDREN)
    assert KEY.encode() in command_line(ppcp.pid)
    lines = {process_name(pid): command_line(pid) for pid in ppcp.children}
    assert {name: line.rstrip(b'\0') for name, line in lines.items()} == {
        name: name.encode() for name in ONE_FILE_CHILDREN}
