"""The ``natsbench`` command.

Each subsystem owns its sub-commands in a small ``commands`` module exposing
``register(subparsers)``; that function adds its parsers and sets ``func`` (a callable taking
the parsed ``argparse.Namespace`` and returning an exit code). This file only wires them up,
importing each provider lazily enough that ``natsbench --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Sequence

from natsbench._version import __version__
from natsbench.errors import NatsBenchError

#: Modules that contribute sub-commands, in the order they appear in ``--help``.
COMMAND_PROVIDERS: tuple[str, ...] = (
    "natsbench.store.commands",      # info, import-official, import-table, compact
    "natsbench.api.commands",        # query
    "natsbench.api.surrogate_commands",  # surrogate fit
    "natsbench.train.commands",      # train
    "natsbench.build.commands",      # build
    "natsbench.build.extcell_commands",  # extcell-edf
    "search_algorithms.commands",    # search
    "search_algorithms.ws_commands",  # search-ws
    "analysis.commands",             # reproduce, report
    "natsbench.demo",                # demo
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="natsbench",
        description="NAS benchmark database, search algorithms and analysis.",
    )
    parser.add_argument("--version", action="version", version=f"natsbench {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more logging (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_PROVIDERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # provider not written yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except NatsBenchError as exc:
        print(f"natsbench {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"natsbench {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a reader that stopped (`| head`): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes stdout
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
