"""Broker security for a store or region: a CA, the broker's TLS certificate, one
credential per kiosk and per HQ service, and the Mosquitto ACL that confines each kiosk
to its own topics.

Everything lives in one directory HQ keeps (``ca.key`` never leaves it)::

    ca.crt ca.key server.crt server.key    TLS
    passwords                              Mosquitto password file (PBKDF2-SHA512)
    acl                                    Mosquitto ACL, regenerated on every change
    accounts.json                          who is provisioned (no secrets)

The broker takes each client's username as its client id, so no client can push
another off by claiming its id; each username therefore holds one connection at a
time, and each of HQ's connections gets its own (``provision_hq``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hq.exceptions import CredentialsError
from kiosk_protocol import MAX_PACKET_BYTES, ONLINE_STORE, CareTopics, ReservationTopics, kiosk_topics, write_atomically

# Mosquitto hashes with PBKDF2-SHA512; its own tool uses 101 rounds, far too few today.
_PBKDF2_ROUNDS = 20_000
_CERT_DAYS = 825
_HQ_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")

# {"services": [name, ...], "kiosks": [{"store": ..., "kiosk": ...}, ...]}
Accounts = dict[str, list[Any]]


@dataclass(frozen=True)
class Credentials:
    """What one client needs to connect: its username (also its client id) and password."""

    username: str
    password: str

    def broker_url(self, host: str, port: int, ca: Path) -> str:
        """The ``mqtts://`` URL this client connects with."""
        return f"mqtts://{self.username}:{self.password}@{host}:{port}?ca={ca}"


def mosquitto_password_hash(password: str, salt: bytes | None = None, rounds: int = _PBKDF2_ROUNDS) -> str:
    """A password-file entry hash Mosquitto 2 accepts (``$7$`` = PBKDF2-SHA512)."""
    salt = salt or os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, rounds)
    return f"$7${rounds}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


class BrokerSecurity:
    """The CA, credentials and ACL of one broker, kept in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca_cert = directory / "ca.crt"
        self.server_cert = directory / "server.crt"
        self.server_key = directory / "server.key"
        self.password_file = directory / "passwords"
        self.acl_file = directory / "acl"
        self._accounts_file = directory / "accounts.json"

    def init(self, name: str, broker_hosts: list[str]) -> None:
        """Create the CA and the broker's certificate for ``broker_hosts`` (once)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.ca_cert.exists():
            return
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} kiosk CA")])
        ca = (
            self._builder(ca_name, ca_name, ca_key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        server_key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = []
        for host in broker_hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        server = (
            self._builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, broker_hosts[0])]), ca_name,
                          server_key.public_key())
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        write_atomically(self.directory / "ca.key", _pem_key(ca_key))
        write_atomically(self.server_key, _pem_key(server_key))
        self.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
        self._save_accounts({"services": [], "kiosks": []})

    def provision_kiosk(self, store: str, kiosk: str) -> Credentials:
        """Give a kiosk its own credentials; it may use only its own topics.

        Provisioning the same kiosk again replaces its password (a lost or stolen tablet).
        """
        kiosk_topics(store, kiosk)  # checks the ids
        if store == ONLINE_STORE:  # its events would pass for a web or app channel's
            raise CredentialsError(f"store id {ONLINE_STORE!r} is reserved for the API's channels (web, app...); "
                                   "give the kiosk its real store's id")
        accounts = self._load_accounts()
        entry = {"store": store, "kiosk": kiosk}
        if entry not in accounts["kiosks"]:
            accounts["kiosks"].append(entry)
        return self._provision(f"{store}.{kiosk}", accounts)

    def provision_service(self, name: str) -> Credentials:
        """Credentials for an HQ service (ingest workers, the profile API)."""
        accounts = self._load_accounts()
        if name not in accounts["services"]:
            accounts["services"].append(name)
        return self._provision(name, accounts)

    def provision_hq(self, workers: int, name: str = "hq") -> dict[str, Credentials]:
        """Credentials for each connection of one HQ machine (``hq_connection_names``), by connection.

        Each is its own username (``<name>-<connection>``; another HQ machine takes another
        ``name``): the broker lets a username hold one connection and takes it as the
        client id, so no kiosk can take over HQ's sessions and no HQ connection another's.
        """
        if not _HQ_NAME.match(name):  # no '.': an HQ login can never be a kiosk's (<store>.<kiosk>)
            raise CredentialsError(f"not an HQ machine name: {name!r} (lowercase letters, digits and '-')")
        return {connection: self.provision_service(f"{name}-{connection}")
                for connection in hq_connection_names(workers)}

    def mosquitto_conf(self, port: int, bind: str = "0.0.0.0") -> str:
        """The Mosquitto config of a listener using these files.

        The listener takes each client's username as its client id: with its own
        credentials and another's id, a client would otherwise push that other off the
        broker and inherit its session. No packet may exceed the largest legitimate
        message (a signed manifest): a larger one disconnects its sender unread.
        """
        return (
            f"listener {port} {bind}\n"
            f"cafile {self.ca_cert}\ncertfile {self.server_cert}\nkeyfile {self.server_key}\n"
            "tls_version tlsv1.2\n"
            "allow_anonymous false\n"
            "use_username_as_clientid true\n"
            f"password_file {self.password_file}\n"
            f"acl_file {self.acl_file}\n"
            f"max_packet_size {MAX_PACKET_BYTES}\n"
        )

    def _provision(self, username: str, accounts: Accounts) -> Credentials:
        password = secrets.token_urlsafe(24)
        entries = self._password_entries()
        entries[username] = mosquitto_password_hash(password)
        write_atomically(self.password_file, "".join(f"{u}:{h}\n" for u, h in sorted(entries.items())).encode())
        self._save_accounts(accounts)
        kiosks = [(k["store"], k["kiosk"]) for k in accounts["kiosks"]]
        self.acl_file.write_text(render_acl(accounts["services"], kiosks))
        return Credentials(username, password)

    def _password_entries(self) -> dict[str, str]:
        if not self.password_file.exists():
            return {}
        return dict(line.split(":", 1) for line in self.password_file.read_text().split())

    def _load_accounts(self) -> Accounts:
        if not self.ca_cert.exists():
            raise CredentialsError(f"no broker CA in {self.directory}: run `kiosk hq init-broker` first")
        return dict(json.loads(self._accounts_file.read_text()))

    def _save_accounts(self, accounts: Accounts) -> None:
        self._accounts_file.write_text(json.dumps(accounts, indent=2))

    @staticmethod
    def _builder(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
        now = dt.datetime.now(dt.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=_CERT_DAYS))
        )


def hq_connection_names(workers: int) -> list[str]:
    """HQ's broker connections: each ingest worker, the profile responder, the fleet view,
    and ``admin`` for one-shot commands (``kiosk hq erase-profile``, a catalog announce)."""
    return [*(f"ingest-{n}" for n in range(1, workers + 1)), "profiles", "fleet", "admin"]


def render_acl(services: list[str], kiosks: list[tuple[str, str]]) -> str:
    """The Mosquitto ACL: HQ services see every kiosk, each kiosk only itself (so the changes
    HQ pushes to the shopper signed in at one kiosk reach no other).

    Kiosks get exact per-kiosk blocks rather than ``%u`` patterns: Mosquitto does not
    substitute a username containing ``/``, and a pattern like ``kiosk/+/%u/#`` would let
    a kiosk claim any store.
    """
    lines = ["# Generated by `kiosk hq provision-kiosk`; do not edit.", ""]
    for service in services:
        lines += [f"user {service}", "topic readwrite kiosk/#", "topic readwrite fleet/#",
                  "topic readwrite store/#", ""]  # each store's stock levels and open requests
    for store, kiosk in kiosks:
        topics, held, care = kiosk_topics(store, kiosk), ReservationTopics(store, kiosk), CareTopics(store, kiosk)
        lines += [
            f"user {store}.{kiosk}",
            f"topic write {topics.events}",
            f"topic write {topics.status}",
            f"topic write {topics.profile_request}",
            f"topic write {topics.handoff_request}",
            f"topic write {topics.profile_ended}",
            f"topic read {topics.receipts}",
            f"topic read {topics.commands}",
            "topic read fleet/commands",
            "topic read fleet/manifests/#",
            f"topic read {topics.software}",  # the software release HQ's rollout chose for it
            f"topic read {topics.profile_response}",
            f"topic read {topics.handoff_response}",
            f"topic read {topics.profile_changes}",  # its signed-in shopper's changes, and no other kiosk's
            # Holds it asks for and their updates (its own only); its store's stock and open requests.
            f"topic write {held.request}",
            f"topic read {held.response}",
            f"topic read {held.changes}",
            f"topic read {held.store_wildcard}",
            f"topic read {care.request}",  # HQ's remote care: a screenshot or log lines asked of it
            f"topic write {care.response}",
            "",
        ]
    return "\n".join(lines)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
