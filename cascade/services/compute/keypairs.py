"""Keypairs owned by the top, per user, as Nova keeps them (no HTTP types here).

A keypair is imported (the caller's public key, validated and fingerprinted)
or generated (an RSA 2048 SSH key, or a self-signed x509 certificate for
WinRM, as Nova makes them); the private key of a generated pair is returned
once and never stored. A user holds at most `KEYPAIRS_PER_USER` keypairs,
Nova's default `key_pairs` quota. Lists are ordered by name, as Nova's are
since microversion 2.35. A pod gets a copy when a server there needs the
keypair, and deleting the top keypair deletes the copies: both are in
`cascade.services.compute.keypair_copies`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.db.models import Keypair
from cascade.services.copies import now

KEYPAIRS_PER_USER = 100  # Nova's default `[quota] key_pairs`
TYPES = ("ssh", "x509")
RSA_BITS = 2048
X509_DAYS = 3650
_UPN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")  # Microsoft user principal name


class KeypairNotFound(Exception):
    def __init__(self, name: str, user_id: str) -> None:
        super().__init__(f"Keypair {name} not found for user {user_id}")
        self.name = name
        self.user_id = user_id


class KeypairExists(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"Key pair '{name}' already exists.")


class InvalidKeypair(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Keypair data is invalid: {reason}")


class KeypairLimitExceeded(Exception):
    def __init__(self) -> None:
        super().__init__("Quota exceeded, too many key pairs.")


class MarkerNotFound(Exception):
    def __init__(self, marker: str) -> None:
        super().__init__(f"Marker {marker} could not be found.")


@dataclass(frozen=True)
class Created:
    """A new keypair; `private_key` only when Cascade generated it (shown this once)."""

    keypair: Keypair
    private_key: str | None


def _colons(hex_digest: str) -> str:
    return ":".join(hex_digest[i : i + 2] for i in range(0, len(hex_digest), 2))


def ssh_fingerprint(public_key: str) -> str:
    """Nova's fingerprint of an OpenSSH public key: MD5 of the key blob, `aa:bb:...`."""
    try:
        serialization.load_ssh_public_key(public_key.encode())
        blob = base64.b64decode(public_key.split(" ")[1])
    except (ValueError, IndexError, binascii.Error, UnicodeEncodeError):
        raise InvalidKeypair("failed to generate fingerprint") from None
    return _colons(hashlib.md5(blob, usedforsecurity=False).hexdigest())


def x509_fingerprint(certificate: str) -> str:
    """Nova's fingerprint of a PEM certificate: SHA1 of the certificate, `aa:bb:...`."""
    try:
        cert = x509.load_pem_x509_certificate(certificate.encode())
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise InvalidKeypair(f"failed to generate X509 fingerprint. Error message: {exc}") from None
    return _colons(cert.fingerprint(hashes.SHA1()).hex())  # Nova's format


def fingerprint(public_key: str, key_type: str) -> str:
    return x509_fingerprint(public_key) if key_type == "x509" else ssh_fingerprint(public_key)


def generate_ssh() -> tuple[str, str]:
    """(private key in PEM, OpenSSH public key) of a new RSA key, as Nova makes them."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, f"{public.decode()} Generated-by-Cascade"


def _der_utf8(text: str) -> bytes:
    """A DER UTF8String (what Nova's openssl config writes as `UTF8:<upn>`)."""
    data = text.encode()
    if len(data) < 0x80:
        length = bytes([len(data)])
    else:
        size = (len(data).bit_length() + 7) // 8
        length = bytes([0x80 | size]) + len(data).to_bytes(size, "big")
    return b"\x0c" + length + data


def generate_x509(user_id: str) -> tuple[str, str]:
    """(base64 PKCS#12 bundle with no password, PEM certificate) for WinRM, as Nova's:
    subject CN=<user_id>, client-auth usage, UPN <user_id>@localhost, ten years."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id)])
    start = datetime.now(UTC)
    upn = x509.OtherName(_UPN_OID, _der_utf8(f"{user_id}@localhost"))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=X509_DAYS))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([upn]), critical=False)
        .sign(key, hashes.SHA256())
    )
    bundle = pkcs12.serialize_key_and_certificates(
        None, key, cert, None, serialization.NoEncryption()
    )
    certificate = cert.public_bytes(serialization.Encoding.PEM).decode()
    return base64.b64encode(bundle).decode("ascii"), certificate


async def _count(db: AsyncSession, user_id: str) -> int:
    found = await db.scalar(select(func.count()).where(Keypair.user_id == user_id))
    return int(found or 0)


async def _find(db: AsyncSession, user_id: str, name: str) -> Keypair | None:
    query = select(Keypair).where(Keypair.user_id == user_id, Keypair.name == name)
    return await db.scalar(query)


async def create(
    db: AsyncSession,
    user_id: str,
    name: str,
    key_type: str,
    public_key: str | None,
    limit: int = KEYPAIRS_PER_USER,
) -> Created:
    """Import `public_key`, or generate a pair when it is None (in a thread: RSA is slow).

    Checked in Nova's order: the quota (`limit` keypairs per user, -1 none), the
    key, the name's uniqueness.
    """
    if limit < 0:
        limit = 2**62
    if await _count(db, user_id) >= limit:
        raise KeypairLimitExceeded()
    private_key: str | None = None
    if public_key is not None:
        key = public_key
    else:
        if await _find(db, user_id, name) is not None:  # before minting a key for nothing
            raise KeypairExists(name)
        if key_type == "x509":
            private_key, key = await asyncio.to_thread(generate_x509, user_id)
        else:
            private_key, key = await asyncio.to_thread(generate_ssh)
    keypair = Keypair(
        id=str(uuid.uuid4()),
        user_id=user_id,
        name=name,
        type=key_type,
        fingerprint=fingerprint(key, key_type),
        public_key=key,
        created_at=now(),
    )
    db.add(keypair)
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise KeypairExists(name) from None
    if await _count(db, user_id) > limit:  # lost a race with other creates
        await db.delete(keypair)
        await db.commit()
        raise KeypairLimitExceeded()
    return Created(keypair, private_key)


async def get(db: AsyncSession, user_id: str, name: str) -> Keypair:
    found = await _find(db, user_id, name)
    if found is None:
        raise KeypairNotFound(name, user_id)
    return found


async def page(
    db: AsyncSession, user_id: str, limit: int | None = None, marker: str | None = None
) -> list[Keypair]:
    """The user's keypairs by name, after the one named `marker`, at most `limit`."""
    query = select(Keypair).where(Keypair.user_id == user_id)
    if marker is not None:
        if await _find(db, user_id, marker) is None:
            raise MarkerNotFound(marker)
        query = query.where(Keypair.name > marker)
    query = query.order_by(Keypair.name)
    if limit is not None:
        query = query.limit(limit)
    return list((await db.scalars(query)).all())


async def delete(db: AsyncSession, user_id: str, name: str) -> Keypair:
    """Delete the top keypair; the deleted row is returned (for its pod copies:
    `keypair_copies.delete_with_copies` does both)."""
    keypair = await get(db, user_id, name)
    await db.delete(keypair)
    await db.commit()
    return keypair
