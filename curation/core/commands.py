"""The one style of every ``curate`` subcommand's own argument parser: its ``prog`` as typed
(``curate dedup report``), a description kept as written, and an example at the end."""

from __future__ import annotations

import argparse


def command_parser(prog: str, description: str | None, example: str) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` whose ``--help`` ends with ``example`` (one or more lines)."""
    examples = "\n".join(f"  {line}" for line in example.splitlines())
    return argparse.ArgumentParser(prog=prog, description=description,
                                   epilog=f"example:\n{examples}",
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
