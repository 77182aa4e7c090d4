"""Browser fixtures (Chromium) and the service fixtures the pages need."""

from tests.service.conftest import (  # noqa: F401
    make_app,
    make_device,
    service_app,
)
from tests.support.browser import (  # noqa: F401
    browser,
    context,
    new_context,
    page,
    page_errors,
)
