"""``python -m livetokens.emulator``: the emulator without the rest of livetokens."""

from __future__ import annotations

import argparse
import asyncio
import logging

from livetokens.emulator._cli import add_arguments, run_from_args


def main() -> None:
    """Parse the command line and serve until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m livetokens.emulator",
        description="Imitation of Google's auth_tokens endpoint for tests and demos.",
    )
    add_arguments(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(run_from_args(args))


if __name__ == "__main__":
    main()
