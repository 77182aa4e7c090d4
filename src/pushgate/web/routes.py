"""The web app's routes, gathered from the modules that own them."""

from fastapi import APIRouter
from starlette.routing import BaseRoute

from pushgate.security import account_view
from pushgate.web import (
    callback,
    codes,
    enrollment,
    live_status,
    login,
    pages,
    password_change,
    recovery_codes,
)

router = APIRouter()
router.include_router(pages.router)
router.include_router(enrollment.router)
router.include_router(password_change.router)
router.include_router(login.router)
router.include_router(codes.router)
router.include_router(recovery_codes.router)
router.include_router(account_view.router)

#: The real-time path as plain Starlette routes, mounted ahead of ``router``:
#: middleware still wraps them, FastAPI's per-request handling does not.
hot_routes: list[BaseRoute] = [callback.route, live_status.route]
