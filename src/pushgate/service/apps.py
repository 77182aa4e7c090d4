"""Service applications: creating them, rotating keys, the site's own one."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from pushgate import clock
from pushgate.db.models import ServiceApp
from pushgate.service.keys import (
    decrypt_api_key,
    encrypt_api_key,
    hash_api_key,
    new_api_key,
)

if TYPE_CHECKING:
    from pushgate.runtime import Runtime

logger = logging.getLogger("pushgate")

#: The name of the application that ``serve`` creates for its own web app.
SITE_APP_NAME = "pushgate web"
_SITE_APP_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('pushgate:site-app'))")


async def create_application(
    session: AsyncSession, server_secret: str, name: str, callback_url: str | None
) -> tuple[ServiceApp, str]:
    """A new application and its API key (the only time the key is shown)."""
    api_key = new_api_key()
    app = ServiceApp(
        name=name,
        api_key_hash=hash_api_key(api_key),
        api_key_encrypted=encrypt_api_key(server_secret, api_key),
        callback_url=callback_url,
        created_at=clock.now(),
    )
    session.add(app)
    await session.flush()
    return app, api_key


async def rotate_key(session: AsyncSession, server_secret: str, app: ServiceApp) -> str:
    api_key = new_api_key()
    app.api_key_hash = hash_api_key(api_key)
    app.api_key_encrypted = encrypt_api_key(server_secret, api_key)
    await session.flush()
    return api_key


def signing_key(server_secret: str, app: ServiceApp) -> str:
    """The key callbacks to ``app`` are signed with."""
    return decrypt_api_key(server_secret, app.api_key_encrypted)


async def ensure_site_application(runtime: Runtime) -> str:
    """The web app's API key, creating its application on first start.

    A key given in settings wins (the web app then uses another service).
    """
    settings = runtime.settings
    if settings.service_api_key is not None:
        return settings.service_api_key.get_secret_value()

    secret = settings.resolved_secret_key()
    callback_url = settings.resolved_public_url() + "/authy/callback"
    async with runtime.sessions.begin() as session:
        # Row locks cannot guard a row that does not exist yet: instances
        # starting together on a fresh database take turns on this lock, so
        # only the first creates the application and the rest reuse its key.
        await session.execute(_SITE_APP_LOCK)
        app = await session.scalar(
            select(ServiceApp).where(ServiceApp.name == SITE_APP_NAME)
        )
        if app is None:
            app, api_key = await create_application(
                session, secret, SITE_APP_NAME, callback_url
            )
            logger.info("Created the web app's service application (id %s)", app.id)
            return api_key
        if app.callback_url != callback_url:
            app.callback_url = callback_url
        return signing_key(secret, app)
