"""The ASGI entry point uvicorn imports in each worker process."""

import sys

from lbs_service.app import Served, create_app

# Database calls run in threads while the event loop keeps handling sockets; a thread back from the
# database waits for the GIL up to the switch interval, once per statement. At the default 5 ms a
# short transaction took tens of milliseconds under load; 0.5 ms gives the thread its turn promptly.
sys.setswitchinterval(0.0005)

app = Served(create_app())
