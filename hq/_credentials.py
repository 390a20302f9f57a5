"""HQ's broker credentials folder: one URL file per HQ connection.

The generated Mosquitto config takes each client's username as its client id, so a
username holds one connection at a time, and each of HQ's connections has its own::

    ingest-1.url ... ingest-N.url    each ingest worker
    profiles.url                     the profile responder (an API erase goes through it too)
    fleet.url                        the fleet view behind the dashboard
    admin.url                        one-shot commands: erase-profile, catalog publish

Each file holds one ``mqtts://user:password@host:port?ca=...`` URL and is readable by its
owner only (0600), in a folder only its owner may open (0700).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from backend_sync import read_url_file
from hq.exceptions import CredentialsError
from kiosk_protocol import SyncError, write_atomically


def write_credentials_folder(directory: Path, urls: Mapping[str, str]) -> list[Path]:
    """Write each connection's URL to ``<directory>/<connection>.url``; returns the files."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    files = []
    for name, url in urls.items():
        path = directory / f"{name}.url"
        write_atomically(path, f"{url}\n".encode())
        files.append(path)
    return files


@dataclass(frozen=True)
class HqBrokerUrls:
    """The broker URL each of HQ's connections logs in with."""

    ingest: tuple[str, ...]  # one per ingest worker
    profiles: str
    fleet: str

    @classmethod
    def shared(cls, url: str, workers: int) -> HqBrokerUrls:
        """One URL for every connection: for a broker that does not take usernames as
        client ids (the embedded demo broker, a broker on the same machine)."""
        return cls((url,) * workers, url, url)

    @classmethod
    def from_folder(cls, directory: Path, workers: int) -> HqBrokerUrls:
        """Read a credentials folder (``kiosk hq provision-hq``) for ``workers`` ingest workers.

        Raises:
            CredentialsError: a connection's file is missing, unreadable or holds no URL.
        """
        def url(name: str) -> str:
            path = directory / f"{name}.url"
            if not path.is_file():
                raise CredentialsError(f"no credentials for HQ's {name} connection in {directory} (no {path.name}): "
                                       f"run `kiosk hq provision-hq --workers {workers}`")
            try:
                return read_url_file(path)
            except SyncError as exc:
                raise CredentialsError(str(exc)) from exc

        return cls(tuple(url(f"ingest-{n}") for n in range(1, workers + 1)), url("profiles"), url("fleet"))
