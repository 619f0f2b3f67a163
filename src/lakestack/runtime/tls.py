"""The local certificate authority: created on first start under `<home>/tls/`, it signs the
certificates of everything lakestack serves over TLS (the AWS endpoint; later the MQTT broker
and the web console).

    ca = certificate_authority(home)          # loads <home>/tls/ca.pem, or creates it
    cert_pem, key_pem = ca.issue(["localhost", "127.0.0.1"])

Trust `ca.pem` once (`AWS_CA_BUNDLE`, `ca_bundle` in an AWS profile, `--cacert`, the OS store)
and every certificate it issues is trusted. Its key (`ca-key.pem`) stays beside it, readable by
the owner only. Keys are ECDSA P-256: fast to make, accepted by every current TLS stack.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lakestack.runtime.files import atomic_write

CA_YEARS = 10
# Apple's clients refuse TLS server certificates valid for more than 825 days, browsers more
# than 398; a leaf is renewed when under RENEW_DAYS remain.
LEAF_DAYS = 397
RENEW_DAYS = 30
# What the endpoint's certificate names: loopback by name and address, and names under
# localhost: S3 at s3.localhost with virtual-hosted buckets at <bucket>.s3.localhost. OpenSSL
# (Python, the AWS CLI, curl) matches a wildcard only with two labels after it, so `*.localhost`
# serves the clients that accept it and `*.s3.localhost` everyone.
LOCAL_NAMES = ("localhost", "*.localhost", "s3.localhost", "*.s3.localhost", "127.0.0.1", "::1")


def tls_dir(home: Path) -> Path:
    return Path(home) / "tls"


class CertificateAuthority:
    """A CA certificate and key in PEM files; `issue` signs leaf certificates with it."""

    def __init__(self, cert_path: Path, key_path: Path):
        self.cert_path = Path(cert_path)
        self.key_path = Path(key_path)
        self.certificate = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        self._key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)

    @classmethod
    def create(cls, cert_path: Path, key_path: Path, common_name: str = "lakestack local CA") -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "lakestack"),
                          x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = dt.datetime.now(dt.UTC)
        public = key.public_key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256())
        )
        # The key first: a crash between the two writes leaves no certificate, so the next
        # start makes a new pair rather than pairing a certificate with a stranger's key.
        atomic_write(key_path, _private_pem(key), mode=0o600)
        atomic_write(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
        return cls(cert_path, key_path)

    def issue(self, names: Sequence[str], days: int = LEAF_DAYS) -> tuple[bytes, bytes]:
        """A server certificate for `names` (DNS names, wildcards, IP addresses) signed by this
        CA: (certificate PEM, private key PEM)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        public = key.public_key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.certificate.subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(min(now + dt.timedelta(days=days), self.certificate.not_valid_after_utc))
            .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM), _private_pem(key)

    def issue_files(self, name: str, names: Sequence[str]) -> tuple[Path, Path]:
        """A certificate for `names` kept as `<name>.pem` and `<name>-key.pem` beside the CA,
        reused across starts while it still names the same hosts, comes from this CA and has
        more than RENEW_DAYS left: (certificate path, key path)."""
        cert_path = self.cert_path.with_name(f"{name}.pem")
        key_path = self.cert_path.with_name(f"{name}-key.pem")
        if not self._still_good(cert_path, key_path, names):
            cert_pem, key_pem = self.issue(names)
            atomic_write(key_path, key_pem, mode=0o600)
            atomic_write(cert_path, cert_pem, mode=0o644)
        return cert_path, key_path

    def _still_good(self, cert_path: Path, key_path: Path, names: Sequence[str]) -> bool:
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key_path.stat()
        except (OSError, ValueError):
            return False
        try:
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        except x509.ExtensionNotFound:
            return False
        mine = x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()).digest
        left = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
        return (set(sans) == {_general_name(n) for n in names} and aki.key_identifier == mine
                and left > dt.timedelta(days=RENEW_DAYS))


def certificate_authority(home: Path) -> CertificateAuthority:
    """The CA under `<home>/tls/`, created on first use."""
    directory = tls_dir(home)
    cert_path, key_path = directory / "ca.pem", directory / "ca-key.pem"
    if cert_path.exists() and key_path.exists():
        return CertificateAuthority(cert_path, key_path)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    return CertificateAuthority.create(cert_path, key_path)


def endpoint_names(host: str) -> list[str]:
    """The names a certificate for an endpoint bound to `host` should carry."""
    names = list(LOCAL_NAMES)
    if host not in ("0.0.0.0", "::", "") and host not in names:
        names.append(host)
    return names


def server_context(cert_path: Path, key_path: Path, alpn: Sequence[str] = ("h2", "http/1.1")) -> ssl.SSLContext:
    """A server-side SSLContext (TLS 1.2+) presenting the certificate, offering `alpn`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_path), str(key_path))
    context.set_alpn_protocols(list(alpn))
    return context


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _private_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
