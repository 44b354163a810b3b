"""How ``ProcessTransferConfig`` shares the concurrent requests out."""
import pytest

from awscli_ppdl.processpool import ProcessTransferConfig


@pytest.mark.parametrize('processes, requests, shares', [
    (3, 10, [4, 3, 3]),
    (2, 10, [5, 5]),
    (1, 10, [10]),
    (4, 2, [1, 1, 1, 1]),   # at least one each: --processes wins
    (10, None, [1] * 10),   # s3transfer's pool: one GET per process
])
def test_each_worker_makes_its_share_of_the_requests(processes, requests,
                                                     shares):
    config = ProcessTransferConfig(max_request_processes=processes,
                                   max_concurrent_requests=requests)
    assert [config.requests_of_worker(n) for n in range(processes)] == shares


@pytest.mark.parametrize('option', [
    'max_request_processes', 'max_concurrent_requests',
    'multipart_chunksize'])
def test_counts_and_sizes_must_be_positive(option):
    with pytest.raises(ValueError, match='must be positive'):
        ProcessTransferConfig(**{option: 0})
