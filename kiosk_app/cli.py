"""``kiosk``: the one command line of the product (demo, kiosk, broker, HQ, NFC tools).

A store tablet installs ``nfc-kiosk[kiosk]`` and HQ's server ``nfc-kiosk[hq]``, so each
subcommand is imported only when it runs, after a check that this install has the extras
it needs; ``kiosk --help`` lists every subcommand on either install.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass

import click

from kiosk_app import _extras


@dataclass(frozen=True)
class Subcommand:
    """Where a subcommand lives, which extras it needs, and its line in ``kiosk --help``."""

    target: str  # "module:attribute"
    extras: tuple[str, ...]
    summary: str

    def load(self) -> click.Command:
        """Import the command."""
        module, _, attribute = self.target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command


SUBCOMMANDS = {
    "demo": Subcommand("kiosk_app.cli_kiosk:demo", ("kiosk", "hq"),
                       "Run broker, HQ, kiosk and tag simulator on this machine."),
    "run": Subcommand("kiosk_app.cli_kiosk:run", ("kiosk",),
                      "Run this kiosk's screen, reader and link to the store broker."),
    "supervise": Subcommand("kiosk_app.cli_kiosk:supervise_kiosk", ("kiosk",),
                            "Run the kiosk on HQ's current software release, switching back from one that fails."),
    "enrol": Subcommand("kiosk_app.cli_enrol:enrol", ("kiosk",),
                        "Enrol this kiosk: show a code for HQ's staff to approve, then take its settings."),
    "staff-pin": Subcommand("kiosk_app.cli_kiosk:staff_pin", ("kiosk",),
                            "Set the PIN that opens staff mode on this kiosk (badges work without one)."),
    "broker": Subcommand("kiosk_app.cli_kiosk:broker", ("kiosk",),
                         "Run the embedded MQTT broker (for demos; stores run Mosquitto)."),
    "nfc": Subcommand("kiosk_app.cli_nfc:nfc", ("kiosk",), "NFC tag tools."),
    "hq": Subcommand("hq.cli:hq", ("hq",), "HQ services."),
    "recommender": Subcommand("kiosk_app.cli_recommender:recommender", (), "Build and evaluate the suggestion model."),
}


def _refusing(name: str, command_path: str, extras: tuple[str, ...], lacking: list[str]) -> click.Command:
    """A stand-in for a command this install cannot run: whatever it is given, it says what to install."""
    message = _extras.refusal(command_path, extras, lacking)

    def refuse() -> None:
        raise click.ClickException(message)

    return click.Command(name, callback=refuse, help=message, add_help_option=False,
                         context_settings={"ignore_unknown_options": True, "allow_extra_args": True})


class LazyGroup(click.Group):
    """The ``kiosk`` group: imports a subcommand only when it is run, if its extras are installed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        subcommand = SUBCOMMANDS.get(cmd_name)
        if subcommand is None:
            return None
        lacking = _extras.missing(subcommand.extras)
        if lacking:
            return _refusing(cmd_name, f"{ctx.command_path} {cmd_name}", subcommand.extras, lacking)
        return subcommand.load()

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List every subcommand from the table, without importing any, and what a missing one needs."""
        rows = []
        for name, subcommand in SUBCOMMANDS.items():
            absent = [extra for extra in subcommand.extras if _extras.missing([extra])]
            plural = "s" if len(absent) > 1 else ""
            note = f" (this install lacks the {' and '.join(absent)} extra{plural})" if absent else ""
            rows.append((name, subcommand.summary + note))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """In-store NFC kiosks, their broker link and HQ."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("nfc").setLevel(level)  # nfcpy pins its own logger to INFO
