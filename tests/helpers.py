"""Small assertions shared by the functional and fault tests."""
import hashlib
import os

from awscli_ppdl.fileio import TEMP_SUFFIX


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def file_sha256(path):
    with open(path, 'rb') as f:
        return sha256(f.read())


def files_under(directory):
    """Every file below ``directory``, as paths relative to it."""
    found = set()
    for root, _, names in os.walk(directory):
        for name in names:
            found.add(os.path.relpath(os.path.join(root, name), directory))
    return found


def assert_no_temp_files(directory):
    leftovers = [p for p in files_under(directory) if p.endswith(TEMP_SUFFIX)]
    assert leftovers == []


def output_lines(text):
    """Lines of CLI output without the progress line's carriage returns."""
    return [line.rsplit('\r', 1)[-1].rstrip()
            for line in text.splitlines() if line.strip()]


def wait_until(predicate, timeout, message):
    """Poll until ``predicate()`` is true; fail after ``timeout`` seconds.

    A deadline against hangs, not a speed measurement: passing tests return
    as soon as the condition holds.
    """
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, message
        time.sleep(0.02)


def descendant_pids(pid):
    """Every live descendant of ``pid``, from /proc (children first seen)."""
    parents = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(')', 1)[1].split()
        if fields[0] != 'Z':
            parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def pid_alive(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def process_name(pid):
    with open(f'/proc/{pid}/comm') as f:
        return f.read().strip()


MiB = 1024 * 1024


def credentials_only_in_the_environment(monkeypatch, no_files_dir,
                                        access_key, secret_key):
    """What botocore's default chain finds for this test: these keys, from
    the environment (no shared files, no instance metadata)."""
    for name, value in [('AWS_ACCESS_KEY_ID', access_key),
                        ('AWS_SECRET_ACCESS_KEY', secret_key),
                        ('AWS_SHARED_CREDENTIALS_FILE',
                         str(no_files_dir / 'no')),
                        ('AWS_CONFIG_FILE', str(no_files_dir / 'no')),
                        ('AWS_EC2_METADATA_DISABLED', 'true')]:
        monkeypatch.setenv(name, value)


def library_downloader(endpoint_url, processes=2, start_method='fork',
                       part_size=MiB, **config):
    """A ``ProcessPoolDownloader`` on the test endpoint, the library way.

    1 MiB parts by default (``part_size=None``: the defaults); ``fork``, so
    that the children inherit patches made in the test process. ``config``:
    more ``ProcessTransferConfig`` arguments.
    """
    from awscli_ppdl.processpool import (
        ProcessPoolDownloader, ProcessTransferConfig)
    from tests.s3server import TEST_ACCESS_KEY, TEST_REGION, TEST_SECRET_KEY

    sizes = {} if part_size is None else dict(
        multipart_threshold=part_size, multipart_chunksize=part_size)
    return ProcessPoolDownloader(
        client_kwargs=dict(region_name=TEST_REGION, endpoint_url=endpoint_url,
                           aws_access_key_id=TEST_ACCESS_KEY,
                           aws_secret_access_key=TEST_SECRET_KEY),
        config=ProcessTransferConfig(max_request_processes=processes,
                                     start_method=start_method, **sizes,
                                     **config))


class Unpicklable(Exception):
    """Holds a lock, and refuses pickling outright."""

    def __init__(self, message):
        import threading

        super().__init__(message)
        self.lock = threading.Lock()

    def __reduce__(self):
        raise TypeError('cannot pickle this exception')


class Undescribable(Exception):
    def __str__(self):
        raise RuntimeError('no description either')


# S3 errors that last, with the GETs botocore makes (legacy mode, 5
# attempts) and the message it ends with: the same whichever path a worker
# sent the first GET on.
LASTING_S3_ERRORS = [
    (dict(status=(503, 'SlowDown', 'Please reduce your request rate.')), 5,
     'An error occurred (SlowDown) when calling the GetObject operation '
     '(reached max retries: 4): Please reduce your request rate.'),
    (dict(status=(400, 'ExpiredToken', 'The provided token has expired.')),
     1, 'An error occurred (ExpiredToken) when calling the GetObject '
     'operation: The provided token has expired.'),
]


def self_signed_certificate(directory, host='127.0.0.1'):
    """(certificate file, key file) for ``host``, an IP address: the
    certificate is its own CA, for ``--ca-bundle``."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                       critical=True)
        .sign(key, hashes.SHA256()))
    cert_file = os.path.join(directory, 'cert.pem')
    key_file = os.path.join(directory, 'key.pem')
    with open(cert_file, 'wb') as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_file, 'wb') as f:
        f.write(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
    return cert_file, key_file
