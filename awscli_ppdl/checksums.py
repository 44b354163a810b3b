"""Whole-object checksum of a download fetched in ranges (``--checksum-mode``).

botocore checks the checksum of a whole-object GET as it reads the body, but a
ranged GET carries no checksum, so ``aws s3 cp`` checks nothing for an object
fetched in parts. When the object has a full-object checksum (not a
``...-N`` checksum of part checksums), the download is checked against it
before it is renamed into place (or, for a stream, over the bytes as they
are written, in order). A CRC (CRC32, CRC32C, CRC64NVME) is checked without
reading the file again: each worker computes its part's CRC as the bytes
arrive, and the parent combines them in order (``awscrt``'s
``combine_*``). SHA1 and SHA256 do not combine: for those the assembled
file is read once more (``verify_file``), with botocore's implementations.
"""
import base64
import re

# Where S3 reports each algorithm, best first (the cheapest to compute).
CHECKSUM_FIELDS = (('crc64nvme', 'ChecksumCRC64NVME'),
                   ('crc32c', 'ChecksumCRC32C'), ('crc32', 'ChecksumCRC32'),
                   ('sha1', 'ChecksumSHA1'), ('sha256', 'ChecksumSHA256'))
READ_SIZE = 1024 * 1024


def verification_requested(extra_args):
    """Whether the download's arguments say ``--checksum-mode ENABLED``."""
    return extra_args.get('ChecksumMode') == 'ENABLED'


def full_object_checksum(response):
    """``(algorithm, base64 value)`` from a HeadObject (or GetObject)
    response, or None.

    A composite checksum (of the part checksums of a multipart upload) is
    no checksum of the bytes, and S3 may send it without its ``-N`` suffix:
    the response's ``ChecksumType`` says which kind it is. Without one
    (servers older than that header, or moto 5.2, which drops both the
    suffix and the type), an object uploaded in parts (an ETag ending in
    ``-N``) is not checked as a whole: S3 keeps full-object checksums only
    for the CRCs, so its SHA1 or SHA256 is composite by definition, and its
    CRC may be either kind; calling it a mismatch would refuse a good
    object that ``aws s3 cp`` downloads.
    """
    checksum_type = response.get('ChecksumType')
    if checksum_type == 'COMPOSITE':
        return None
    if checksum_type is None and is_multipart_etag(response.get('ETag')):
        return None
    for algorithm, field in CHECKSUM_FIELDS:
        value = response.get(field)
        if value and '-' not in value:
            return algorithm, value
    return None


def is_multipart_etag(etag):
    """Whether an ETag is that of a multipart upload (``"...-N"``)."""
    if not etag:
        return False
    _, dash, count = etag.strip('"').rpartition('-')
    return bool(dash) and count.isdigit()


# The algorithms whose full-object checksum is combined from the parts' CRCs.
CRC_ALGORITHMS = ('crc32', 'crc32c', 'crc64nvme')
_CRC_BYTES = {'crc32': 4, 'crc32c': 4, 'crc64nvme': 8}


class PartCrc:
    """The CRC of one part's bytes, as they arrive (``awscrt``)."""

    def __init__(self, algorithm):
        from awscrt import checksums as crt

        self._update = getattr(crt, algorithm)
        self.value = 0

    def update(self, block):
        self.value = self._update(block, self.value)


def combine_crcs(algorithm, part_crcs):
    """The CRC of the whole from each part's ``(crc, length)``, in order."""
    from awscrt import checksums as crt

    combine = getattr(crt, f'combine_{algorithm}')
    total = 0
    for index, (crc, length) in enumerate(part_crcs):
        total = crc if index == 0 else combine(total, crc, length)
    return total


def verify_part_crcs(algorithm, expected, part_crcs):
    """Raise botocore's ``FlexibleChecksumError`` (as ``verify_file``) if
    the parts' CRCs, combined, are not the full-object checksum."""
    calculated = combine_crcs(algorithm, part_crcs).to_bytes(
        _CRC_BYTES[algorithm], 'big')
    if calculated != base64.b64decode(expected):
        raise _mismatch(expected, base64.b64encode(calculated).decode())


# An ETag that is the MD5 of the object's bytes has this shape; a multipart
# upload's ends in "-N", and SSE-KMS and SSE-C objects have ETags that are
# no MD5 of their bytes (their encryption headers say so).
_MD5_ETAG = re.compile(r'[0-9a-fA-F]{32}')
_KMS = ('aws:kms', 'aws:kms:dsse')


def etag_md5(etag, server_side_encryption=None,
             sse_customer_algorithm=None):
    """The hex MD5 that a GetObject response's ETag says its (whole) body
    has, or None where the ETag is no MD5 of the bytes: a multipart upload
    (``-N``), SSE-KMS or DSSE-KMS, SSE-C, or not 32 hex digits at all."""
    if not etag or server_side_encryption in _KMS or sse_customer_algorithm:
        return None
    value = etag.strip('"')
    if not _MD5_ETAG.fullmatch(value):
        return None
    return value.lower()


class ChecksumMismatchError(Exception):
    """The bytes received are not those the server said it sent."""


def md5_mismatch(bucket, key, expected, calculated):
    return ChecksumMismatchError(
        f's3://{bucket}/{key}: MD5 of the bytes received is {calculated}, '
        f'its ETag says {expected}; the file was not written.')


def verify_file(filename, algorithm, expected):
    """Raise botocore's ``FlexibleChecksumError`` if the file does not match.

    The message is botocore's, as ``aws s3 cp`` prints it for a whole-object
    GET whose body does not match.
    """
    checker = ChecksumChecker(algorithm, expected)
    with open(filename, 'rb') as f:
        for block in iter(lambda: f.read(READ_SIZE), b''):
            checker.update(block)
    checker.verify()


class ChecksumChecker:
    """A full-object checksum computed over bytes seen in order."""

    def __init__(self, algorithm, expected):
        self._checksum = _checksum_class(algorithm)()
        self._expected = expected

    def update(self, block):
        self._checksum.update(block)

    def verify(self):
        if self._checksum.digest() != base64.b64decode(self._expected):
            raise _mismatch(self._expected, self._checksum.b64digest())


def _mismatch(expected, calculated):
    """botocore's error, in its words, as ``aws s3 cp`` prints it for a
    whole-object GET whose body does not match."""
    from botocore.exceptions import FlexibleChecksumError

    return FlexibleChecksumError(error_msg=(
        f'Expected checksum {expected} did not match calculated '
        f'checksum: {calculated}'))


def _checksum_class(algorithm):
    from botocore import httpchecksum

    return {
        'crc32': httpchecksum.CrtCrc32Checksum,
        'crc32c': httpchecksum.CrtCrc32cChecksum,
        'crc64nvme': httpchecksum.CrtCrc64NvmeChecksum,
        'sha1': httpchecksum.Sha1Checksum,
        'sha256': httpchecksum.Sha256Checksum,
    }[algorithm]
