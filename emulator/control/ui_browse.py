"""Browsing what the emulator holds: buckets and objects, named snapshots, callback inboxes.

The forms post to this router; the dashboard's server side calls the same service functions
as the API (never a signed API call from the browser). Cross-site posts never get here: the
middleware refuses a foreign Origin or Sec-Fetch-Site: cross-site on the control surface.
"""

from __future__ import annotations

from fastapi import APIRouter

from emulator.control.common import TokenDep
from emulator.control.ui import PREFIX, UiRoute

views = APIRouter(prefix=PREFIX, route_class=UiRoute, dependencies=[TokenDep])
