"""The ``somebound`` command.

Each domain contributes its sub-commands through a ``register(subparsers)`` function in
its ``commands`` module, so this file only wires them together.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Domain modules that contribute sub-commands; a module that is missing is skipped so
# that a partial install still has a working CLI.
COMMAND_MODULES = (
    "somebound.api.commands",
    "somebound.store.commands",
    "somebound.channels.commands",
    "somebound.identity.commands",
    "somebound.decisions.commands",
    "somebound.listening.commands",
    "somebound.metrics.commands",
    "somebound.workforce.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="somebound", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
