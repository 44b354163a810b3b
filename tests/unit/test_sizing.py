"""sizing: a first GET's response read, and the rest of its object planned."""
from s3transfer.utils import MAX_PARTS

from awscli_ppdl import sizing
from awscli_ppdl.records import GetObjectJob

MiB = 1024 * 1024


def first_job(first=8 * MiB, part=8 * MiB, **extra_args):
    return GetObjectJob(
        transfer_id=1, bucket='b', key='k', temp_filename='/tmp/t',
        extra_args=dict(extra_args, Range=f'bytes=0-{first - 1}'), offset=0,
        length=first, part_index=0, num_parts=1, check_md5=True,
        rest_part_size=part)


def test_a_small_object_is_all_in_the_first_range():
    assert sizing.first_part(first_job(), 'bytes 0-9/10', 10) == (10, 10)


def test_a_larger_object_fills_the_first_range():
    assert sizing.first_part(first_job(), f'bytes 0-{8 * MiB - 1}/{20 * MiB}',
                             8 * MiB) == (8 * MiB, 20 * MiB)


def test_a_response_without_a_range_is_the_whole_object():
    """A server that ignores the range (or answers an empty object's with
    200) sent the whole object, whatever its length."""
    assert sizing.first_part(first_job(), None, 20 * MiB) == (
        20 * MiB, 20 * MiB)
    assert sizing.first_part(first_job(), None, 0) == (0, 0)


def test_another_range_is_not_the_first_part():
    job = first_job()
    assert sizing.first_part(job, 'bytes 1-10/11', 10) is None
    assert sizing.first_part(job, 'bytes 0-4/10', 5) is None
    assert sizing.first_part(job, 'bytes 0-9/10', 9) is None
    assert sizing.first_part(job, 'bytes */10', 0) is None
    assert sizing.first_part(job, None, None) is None


def test_the_rest_is_ranged_gets_with_if_match():
    job = first_job(first=2 * MiB, part=MiB, VersionId='v1')
    rest = sizing.rest_of(job, 4 * MiB + 5, 2 * MiB, '"etag"')
    assert [(r.offset, r.length, r.part_index, r.num_parts) for r in rest] == [
        (2 * MiB, MiB, 1, 4), (3 * MiB, MiB, 2, 4), (4 * MiB, 5, 3, 4)]
    assert [r.extra_args for r in rest] == [
        {'VersionId': 'v1', 'IfMatch': '"etag"',
         'Range': f'bytes={start}-{start + length - 1}'}
        for start, length in ((2 * MiB, MiB), (3 * MiB, MiB), (4 * MiB, 5))]
    assert {(r.reserve, r.check_md5, r.rest_part_size) for r in rest} == {
        (4 * MiB + 5, False, None)}
    assert sizing.num_parts(job, 4 * MiB + 5, 2 * MiB) == 4
    assert sizing.rest_of(job, 2 * MiB, 2 * MiB, '"etag"') == []
    assert sizing.num_parts(job, 2 * MiB, 2 * MiB) == 1


def test_no_more_than_max_parts_in_all():
    job = first_job(first=1, part=1)
    size = 3 * MAX_PARTS
    rest = sizing.rest_of(job, size, 1, '"e"')
    assert 1 + len(rest) <= MAX_PARTS
    assert sum(r.length for r in rest) == size - 1
    assert rest[-1].offset + rest[-1].length == size


def test_last_modified_in_seconds():
    assert sizing.http_date_seconds('Wed, 21 Oct 2015 07:28:00 GMT') == (
        1445412480.0)
    assert sizing.http_date_seconds(None) is None
    assert sizing.http_date_seconds('yesterday') is None
