"""What the ``timecoin`` command and its ``wallet`` group share: exit codes and argparse's shape.

A module of its own because ``cli`` imports ``wallet_cli`` (to add the wallet commands),
so neither can hold these for the other.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the command and what is wrong), exit 2."""

    def error(self, message: str) -> NoReturn:
        """Print one line naming the command and what is wrong; exit :data:`EXIT_USAGE`."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' layout and shows every option's default (when it has one)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default not in (None, False, [], argparse.SUPPRESS) and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text
