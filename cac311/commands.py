"""Subcommands beyond the database ones. Each module in ``cac311.cli_parts`` adds its own."""

from __future__ import annotations

import argparse
import importlib
import pkgutil

from cac311 import cli_parts


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Let every module of ``cac311.cli_parts`` add its subcommands, in name order."""
    for info in sorted(pkgutil.iter_modules(cli_parts.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{cli_parts.__name__}.{info.name}")
        module.register(sub)
