"""`python -m bot <command>`: serve, migrate, chat, and the operators' commands.

`legal-aid-bot <command>`, the console script pip installs, is the same.

Each command lives in a small module exposing `register(subparsers)`; adding one is one line in
CLI_MODULES (the engine's commands) or in handlers.CLI_MODULES (the features' commands: digest,
export), which the features package declares and this composition root reads.
"""

from __future__ import annotations

import argparse
import importlib
import sys

CLI_MODULES = [
    "bot.cli.core",  # serve, migrate
    "bot.cli.chat",  # chat: a terminal that talks to the server like WeChat does
    "bot.cli.people",  # staff, center-keys
    "bot.cli.agents",  # agents invite | list | disable
    "bot.cli.pool",  # orgs add | list; handlers add | list | remove | readmit | invite
    "bot.cli.keys",  # rotate-key
    "bot.cli.experts",  # experts add | list | disable
]


def cli_modules() -> list[str]:
    """The engine's commands, then those the features package (handlers) declares."""
    import handlers  # the one place the CLI meets the features (import-linter allows it)

    return [*CLI_MODULES, *handlers.CLI_MODULES]


def main(argv: list[str] | None = None) -> int:
    # The console script `legal-aid-bot` runs this same function.
    prog = "legal-aid-bot" if sys.argv[0].endswith("legal-aid-bot") else "python -m bot"
    parser = argparse.ArgumentParser(prog=prog, description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name in cli_modules():
        importlib.import_module(name).register(sub)
    args = parser.parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
