"""Loading the kv files in ``assets/kv``."""

from __future__ import annotations

from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path

from kivy.lang import Builder


def kv_dir() -> Path:
    """The folder holding the kv files, inside the installed ``assets`` package."""
    return Path(str(files("assets") / "kv"))


def load_kv(names: Iterable[str]) -> None:
    """Load the named kv files, replacing earlier loads of the same files.

    Loading a file twice would apply each rule twice (two of every child widget), which
    happens when a process builds the app more than once, as tests do.
    """
    for name in names:
        path = str(kv_dir() / name)
        Builder.unload_file(path)
        Builder.load_file(path)
