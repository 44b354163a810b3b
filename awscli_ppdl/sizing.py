"""Objects of unknown size, sized by their first GET instead of a HeadObject.

``ProcessTransferConfig.size_from_first_get``: the submitter queues one
job for such an object, a GET of the range ``bytes=0-(first - 1)``. Its
response's ``Content-Range`` (``bytes 0-E/TOTAL``) tells the size, and its
ETag is what the rest must match. The worker that made that GET queues the
rest itself (``rest_of``), as ranged GETs with ``IfMatch``: it holds
everything they need, so no size crosses a process boundary to be planned
elsewhere, and every record stays a plain ``GetObjectJob``. The object's
size and Last-Modified go to the parent with the first GET's report
(``records.ObjectSized``), for its progress total and the file's mtime.

The job queue is bounded: a worker that finds it full does the part itself
rather than wait for room, since every worker waiting so would wait for
ever.
"""
import email.utils
import re

from s3transfer.utils import MAX_PARTS

_CONTENT_RANGE = re.compile(r'bytes (\d+)-(\d+)/(\d+)$')


def first_part(job, content_range, content_length):
    """``(length, size)`` of a sizing job's response, or None if it is
    not the range asked for.

    A response without ``Content-Range`` is the whole object (a server
    may ignore a range, or answer one of an empty object with 200): its
    length is the size."""
    if content_range is None:
        if content_length is None:
            return None
        return content_length, content_length
    match = _CONTENT_RANGE.match(content_range)
    if match is None:
        return None
    start, end, size = (int(group) for group in match.groups())
    length = end + 1
    if start != 0 or length != min(job.length, size) or (
            content_length != length):
        return None
    return length, size


def num_parts(job, size, first_length):
    """How many GETs fetch the object: the first and the rest's."""
    rest = size - first_length
    if rest <= 0:
        return 1
    return 1 + -(-rest // _rest_part_size(job, rest))


def rest_of(job, size, first_length, etag):
    """The ranged GETs after the first (``first_length`` bytes), each
    with ``IfMatch`` of the first GET's ``etag``, for the worker to queue."""
    rest = size - first_length
    if rest <= 0:
        return []
    part_size = _rest_part_size(job, rest)
    count = num_parts(job, size, first_length)
    base_args = {name: value for name, value in job.extra_args.items()
                 if name != 'Range'}
    if etag is not None:
        base_args['IfMatch'] = etag
    jobs = []
    for index in range(1, count):
        start = first_length + (index - 1) * part_size
        length = min(part_size, size - start)
        jobs.append(job._replace(
            extra_args=dict(base_args,
                            Range=f'bytes={start}-{start + length - 1}'),
            offset=start, length=length, part_index=index, num_parts=count,
            reserve=size, check_md5=False, rest_part_size=None))
    return jobs


def _rest_part_size(job, rest):
    """The configured part size, but no more than ``MAX_PARTS`` parts in
    all (``ProcessTransferConfig.part_size``'s rule)."""
    return max(job.rest_part_size, -(-rest // (MAX_PARTS - 1)))


def http_date_seconds(value):
    """A Last-Modified header (an HTTP date) in POSIX seconds, or None."""
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
