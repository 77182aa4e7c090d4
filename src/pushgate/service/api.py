"""The approval service's HTTP API, as the Authy API laid it out.

Every route answers JSON in Authy's shapes and refuses a missing or wrong
API key with 401 (see :mod:`pushgate.service.errors`).
"""

from fastapi import APIRouter

from pushgate.security import service_api as security_api
from pushgate.service import app_api, onetouch_api, phones_api, users_api

router = APIRouter()
router.include_router(users_api.router)
router.include_router(onetouch_api.router)
router.include_router(app_api.router)
router.include_router(phones_api.router)
router.include_router(security_api.router)
