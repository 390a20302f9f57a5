"""Command-line options for URLs that hold a password (a broker's, a database's).

A URL given as ``--broker`` or ``--db`` sits in ``/proc/<pid>/cmdline`` for every local
user to read, so each such option has two quieter forms: ``--broker-url-file PATH`` (a
file of mode 0600) and ``KIOSK_BROKER_URL`` in the environment (``--db-url-file`` and
``KIOSK_DB_URL`` likewise). Whatever the source, only ``without_password`` is printed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import click
from click.core import ParameterSource

from backend_sync._secret_files import read_url_file
from kiosk_protocol import SyncError

BROKER_URL_ENV = "KIOSK_BROKER_URL"
DB_URL_ENV = "KIOSK_DB_URL"

_Command = TypeVar("_Command", bound=Callable[..., Any])


def without_password(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***``: what logs and output may show."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{parts.netloc.rpartition('@')[2]}"))


def secret_url_option(name: str, envvar: str, help: str, *, required: bool = True,
                      default: str | None = None) -> Callable[[_Command], _Command]:
    """Add ``--NAME`` (also read from ``envvar``) and ``--NAME-url-file`` to a command,
    which then gets the URL from whichever was given as its ``NAME`` argument.

    ``--NAME`` on the command line and ``--NAME-url-file`` together are refused; the file
    wins over the environment. ``--NAME`` with a password on the command line works but
    warns. With neither, ``default`` is used, and a missing URL is an error if ``required``.
    """
    file_param = f"{name}_url_file"
    flag = name.replace("_", "-")  # offers_db is --offers-db on the command line

    def decorate(command: _Command) -> _Command:
        @functools.wraps(command)
        def resolved(**kwargs: Any) -> Any:
            kwargs[name] = _resolve(name, kwargs.pop(name), kwargs.pop(file_param), envvar, required, default)
            return command(**kwargs)

        with_file = click.option(
            f"--{flag}-url-file", file_param, type=click.Path(dir_okay=False, path_type=Path),
            help=f"A file (mode 0600) holding the URL of --{flag}: unlike --{flag}, no other user can read it.",
        )(resolved)
        return cast(_Command, click.option(
            f"--{flag}", name, envvar=envvar, show_envvar=True,
            help=f"{help} Holding a password, give it in ${envvar} or --{flag}-url-file instead: every local "
                 "user can read a command line." + (f"  [default: {default}]" if default else ""),
        )(with_file))

    return decorate


def _resolve(name: str, value: str | None, file: Path | None, envvar: str, required: bool,
             default: str | None) -> str | None:
    source = click.get_current_context().get_parameter_source(name)
    name = name.replace("_", "-")  # as the messages below name the option
    if file is not None:
        if value is not None and source is ParameterSource.COMMANDLINE:
            raise click.UsageError(f"give --{name} or --{name}-url-file, not both")
        try:
            return read_url_file(file)
        except SyncError as exc:
            raise click.BadParameter(str(exc), param_hint=f"--{name}-url-file") from exc
    if value is not None:
        if source is ParameterSource.COMMANDLINE and urlsplit(value).password is not None:
            click.echo(f"warning: --{name} holds a password, which every local user can read on this command "
                       f"line; give it in ${envvar} or --{name}-url-file", err=True)
        return value
    if default is None and required:
        raise click.UsageError(f"give --{name}, --{name}-url-file or ${envvar}")
    return default
