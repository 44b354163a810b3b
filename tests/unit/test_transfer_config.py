"""How ``ProcessTransferConfig`` shares the concurrent requests out, and
how many the command asks for when the profile sets none."""
import pytest

from awscli_ppdl.command import default_concurrent_requests
from awscli_ppdl.processpool import ProcessTransferConfig

MiB = 1024 * 1024


@pytest.mark.parametrize('processes, requests, shares', [
    (3, 10, [4, 3, 3]),
    (2, 10, [5, 5]),
    (1, 10, [10]),
    (10, None, [1] * 10),   # s3transfer's pool: one GET per process
    (4, 2, [1, 1]),         # no more processes than requests...
    (100000, 10, [1] * 10),  # ...however many are asked for
])
def test_each_worker_makes_its_share_of_the_requests(processes, requests,
                                                     shares):
    config = ProcessTransferConfig(max_request_processes=processes,
                                   max_concurrent_requests=requests)
    assert config.max_request_processes == len(shares)
    assert [config.requests_of_worker(n)
            for n in range(config.max_request_processes)] == shares


@pytest.mark.parametrize('processes, requests, large, shares', [
    (2, 64, 32, [16, 16]),
    (3, 64, 32, [11, 11, 10]),
    (2, 10, None, [5, 5]),    # None: every request may be large
    (2, 10, 40, [5, 5]),      # never more than the requests...
    (4, 8, 2, [1, 1, 1, 1]),  # ...nor fewer than one per worker
])
def test_each_worker_makes_its_share_of_the_large_requests(
        processes, requests, large, shares):
    config = ProcessTransferConfig(max_request_processes=processes,
                                   max_concurrent_requests=requests,
                                   max_concurrent_large_requests=large)
    assert [config.large_requests_of_worker(n)
            for n in range(config.max_request_processes)] == shares


@pytest.mark.parametrize('chunksize, size, part_size', [
    (8 * MiB, 100 * MiB, 8 * MiB),
    (8 * MiB, 10000 * 8 * MiB, 8 * MiB),
    (8 * MiB, 10000 * 8 * MiB + 1, 8 * MiB + 1),
    (1, 10000, 1),
    (1, 10 ** 9, 10 ** 5),
])
def test_an_object_has_at_most_max_parts_parts(chunksize, size, part_size):
    config = ProcessTransferConfig(multipart_chunksize=chunksize)
    assert config.part_size(size) == part_size


@pytest.mark.parametrize('option', [
    'max_request_processes', 'max_concurrent_requests',
    'max_concurrent_large_requests', 'multipart_chunksize', 'max_queue_size'])
def test_counts_and_sizes_must_be_positive(option):
    with pytest.raises(ValueError, match='must be positive'):
        ProcessTransferConfig(**{option: 0})


@pytest.mark.parametrize('cpus, requests, large', [
    (1, 32, 16), (2, 64, 32), (3, 96, 48), (4, 128, 64), (96, 128, 64)])
def test_the_default_requests_are_32_per_cpu_and_16_of_them_large(
        cpus, requests, large):
    """At most 128, and 64 large."""
    assert default_concurrent_requests(cpus) == (requests, large)
