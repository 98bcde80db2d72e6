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
import traceback
from typing import Iterator, Sequence

from natsbench._version import __version__
from natsbench.errors import NatsBenchError

#: Modules that contribute sub-commands, in the order they appear in ``--help``.
COMMAND_PROVIDERS: tuple[str, ...] = (
    "natsbench.store.commands",      # info, import-official, import-table, compact
    "natsbench.api.commands",        # query
    "natsbench.api.surrogate_commands",  # surrogate fit
    "natsbench.train.commands",      # train
    "natsbench.train.proxy_commands",  # proxy-data
    "natsbench.build.commands",      # build
    "natsbench.build.extcell_commands",  # extcell-edf
    "search_algorithms.commands",    # search
    "search_algorithms.ws_commands",  # search-ws
    "search_algorithms.dash_commands",  # dash
    "search_algorithms.d2nas_commands",  # d2nas
    "search_algorithms.btnas_commands",  # btnas
    "analysis.commands",             # reproduce, report
    "natsbench.demo",                # demo
)


#: Exit codes: a user error (bad argument, missing file, unknown name) and an internal error.
EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1


def build_parser() -> argparse.ArgumentParser:
    """The ``natsbench`` parser with every provider's sub-commands.

    A provider that cannot be imported is an installation fault, not something to hide: the
    import error propagates (``main`` reports it as one line naming the module).
    """
    parser = argparse.ArgumentParser(
        prog="natsbench",
        description="NAS benchmark database, search algorithms and analysis.",
        epilog="Exit codes: 0 success, 2 bad input (usage, unknown name, missing file, ...), "
               "1 internal error (rerun with -v for the traceback), 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"natsbench {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more logging (-v info, -vv debug) and tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_PROVIDERS:
        module = importlib.import_module(name)
        module.register(sub)
    for _, leaf in iter_commands(parser):  # `natsbench CMD ... -v` works as `natsbench -v CMD ...`
        if "-v" not in leaf._option_string_actions:
            leaf.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                              help="more logging (-v info, -vv debug) and tracebacks of internal errors")
    return parser


def iter_commands(parser: argparse.ArgumentParser,
                  prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every sub-command parser, nested ones included, as ``((name, ...), parser)``.

    Yields each parser that has sub-commands as well as its leaves (``reproduce`` and
    ``reproduce nb360-profile``); aliases are yielded once.
    """
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, child in action.choices.items():
                if id(child) in seen:
                    continue
                seen.add(id(child))
                yield (*prefix, name), child
                yield from iter_commands(child, (*prefix, name))


def _command_name(args: argparse.Namespace) -> str:
    nested = [getattr(args, key, None) for key in ("surrogate_command", "reproduction")]
    return " ".join(str(x) for x in (args.command, *nested) if x)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``natsbench``; returns the exit code (see :data:`EXIT_USER_ERROR`, :data:`EXIT_INTERNAL_ERROR`)."""
    words = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a == "--verbose" or (len(a) > 1 and a[0] == "-" and set(a[1:]) == {"v"}) for a in words)
    try:
        parser = build_parser()
    except Exception as exc:  # a broken installation: one line, traceback with -v
        return _internal_error("natsbench", exc, verbose)
    args = parser.parse_args(argv)  # usage errors exit 2 (argparse)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    prog = f"natsbench {_command_name(args)}"
    _reject_empty_values(parser, args, words)
    try:
        return int(args.func(args) or 0)
    except NatsBenchError as exc:
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a reader that stopped (`| head`): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes stdout
        return 141
    except Exception as exc:  # a bug or an environment fault: one line, traceback with -v
        return _internal_error(prog, exc, args.verbose > 0)


def _reject_empty_values(parser: argparse.ArgumentParser, args: argparse.Namespace,
                         words: Sequence[str]) -> None:
    """Usage error (exit 2) for an empty argument: no sub-command takes one, and an empty
    path would silently mean the current directory."""
    for k, word in enumerate(words):
        option = word[:-1] if word.startswith("--") and word.endswith("=") else None
        if option or not word.strip():
            if option is None and k and words[k - 1].startswith("-"):
                option = words[k - 1]
            leaf = dict(iter_commands(parser)).get(tuple(_command_name(args).split()), parser)
            what = f"argument {option}" if option else f"word {k + 1} of the command line"
            leaf.error(f"{what}: empty value ''; every argument needs a non-empty value")


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        text = exc.args[0]  # KeyError's str() adds quotes around the message
    return " ".join(text.split()) or type(exc).__name__


def _internal_error(prog: str, exc: BaseException, verbose: bool) -> int:
    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    hint = "" if verbose else " (rerun with -v for the traceback)"
    print(f"{prog}: internal error: {type(exc).__name__}: {_one_line(exc)}{hint}", file=sys.stderr)
    return EXIT_INTERNAL_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
