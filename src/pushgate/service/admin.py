"""``pushgate app``: create, list and rotate keys of service applications."""

from __future__ import annotations

import argparse

from pushgate.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_subparsers(dest="app_command", required=True)


async def run(args: argparse.Namespace, settings: Settings, url: str) -> int:
    return 1
