"""``pushgate app``: create, list and rotate keys of service applications.

``create`` and ``rotate-key`` print the new API key alone on the last line:
it is shown only then (the service keeps a hash and an encrypted copy for
signing callbacks). ``deliveries`` shows recent callback deliveries and how
they went, for operators.
"""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate.db.engine import create_engine, session_factory
from pushgate.db.models import ServiceApp, ServiceCallbackDelivery, ServiceUser
from pushgate.service.apps import create_application, rotate_key
from pushgate.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="app_command", required=True)

    create = commands.add_parser("create", help="create an application and its key")
    create.add_argument("--name", required=True, help="the application's name")
    create.add_argument(
        "--callback-url",
        help="where answers are POSTed (http or https URL); none: no callbacks",
    )

    commands.add_parser("list", help="list applications")

    rotate = commands.add_parser(
        "rotate-key", help="replace an application's key (the old one stops working)"
    )
    rotate.add_argument("id", type=int, help="the application's id")

    deliveries = commands.add_parser(
        "deliveries", help="show recent callback deliveries and their outcome"
    )
    deliveries.add_argument("--limit", type=int, default=20, help="how many (20)")


def _check_url(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"--callback-url {url!r} must be an http:// or https:// URL."
    return None


async def run(args: argparse.Namespace, settings: Settings, url: str) -> int:
    engine = create_engine(url, pool_size=1)
    sessions = session_factory(engine)
    secret = settings.resolved_secret_key()
    try:
        async with sessions.begin() as session:
            command = args.app_command
            if command == "create":
                problem = _check_url(args.callback_url)
                if problem is not None:
                    print(problem)
                    return 2
                app, key = await create_application(
                    session, secret, args.name[:100], args.callback_url
                )
                print(f"Created application {app.id} ({app.name}).")
                print("Its API key follows; it is shown only now:")
                print(key)
                return 0

            if command == "rotate-key":
                found = await session.get(ServiceApp, args.id, with_for_update=True)
                if found is None:
                    print(f"No application has id {args.id}; see `pushgate app list`.")
                    return 1
                key = await rotate_key(session, secret, found)
                print(f"Rotated the key of application {found.id} ({found.name}).")
                print("The old key no longer works. The new key (shown only now):")
                print(key)
                return 0

            if command == "list":
                return await _list(session)
            return await _deliveries(session, args.limit)
    finally:
        await engine.dispose()


async def _list(session: AsyncSession) -> int:
    counts = (
        select(ServiceUser.app_id, func.count().label("users"))
        .where(ServiceUser.deleted_at.is_(None))
        .group_by(ServiceUser.app_id)
        .subquery()
    )
    rows = await session.execute(
        select(ServiceApp, func.coalesce(counts.c.users, 0))
        .outerjoin(counts, counts.c.app_id == ServiceApp.id)
        .order_by(ServiceApp.id)
    )
    print(f"{'id':>4}  {'users':>5}  {'created':<20} {'name':<24} callback URL")
    for app, user_count in rows:
        created = app.created_at.strftime("%Y-%m-%d %H:%M")
        print(
            f"{app.id:>4}  {user_count:>5}  {created:<20} {app.name:<24} "
            f"{app.callback_url or '-'}"
        )
    return 0


async def _deliveries(session: AsyncSession, limit: int) -> int:
    rows = await session.scalars(
        select(ServiceCallbackDelivery)
        .order_by(ServiceCallbackDelivery.id.desc())
        .limit(max(1, min(limit, 1000)))
    )
    print(f"{'when':<20} {'app':>4} {'try':>3}  {'outcome':<10} {'code':>4}  request")
    for row in rows:
        when = row.started_at.strftime("%Y-%m-%d %H:%M:%S")
        code = str(row.status_code) if row.status_code is not None else "-"
        detail = f"  {row.error}" if row.error else ""
        print(
            f"{when:<20} {row.app_id:>4} {row.attempt:>3}  {row.outcome:<10} "
            f"{code:>4}  {row.approval_uuid}{detail}"
        )
    return 0
