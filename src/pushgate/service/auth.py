"""Which application a request comes from, by its API key.

The key travels in the ``X-Authy-API-Key`` header, or as the ``api_key``
query parameter as older Authy clients sent it. Only the key's SHA-256 hash
is looked up, so the comparison never touches the key itself; the hash
column is unique, and an equality match on a hash of a 256-bit random key
leaks nothing useful through timing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy import Executable, select
from sqlalchemy.dialects.postgresql import insert
from starlette.requests import Request

from pushgate import clock
from pushgate.db.models import ServiceApiUsage, ServiceApp
from pushgate.logs import security_event
from pushgate.runtime import Runtime, get_runtime
from pushgate.service.errors import invalid_api_key
from pushgate.service.keys import hash_api_key

HEADER = "X-Authy-API-Key"


def presented_key(request: Request) -> str | None:
    key = request.headers.get(HEADER) or request.query_params.get("api_key")
    if not key or len(key) > 200:
        return None
    return key


async def current_app(
    request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> ServiceApp:
    """The calling application; a missing or unknown key is refused with 401."""
    key = presented_key(request)
    if key is None:
        security_event("service.api_key_missing", path=request.url.path)
        raise invalid_api_key()

    async with runtime.sessions.begin() as session:
        app = await session.scalar(
            select(ServiceApp).where(ServiceApp.api_key_hash == hash_api_key(key))
        )
        if app is None:
            security_event("service.api_key_wrong", path=request.url.path)
            raise invalid_api_key()
        await session.execute(_count_call(app.id))
    return app


def _count_call(app_id: int) -> Executable:
    month = clock.now().strftime("%Y-%m")
    statement = insert(ServiceApiUsage).values(app_id=app_id, month=month, api_calls=1)
    return statement.on_conflict_do_update(
        index_elements=["app_id", "month"],
        set_={"api_calls": ServiceApiUsage.api_calls + 1},
    )


CurrentApp = Annotated[ServiceApp, Depends(current_app)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
