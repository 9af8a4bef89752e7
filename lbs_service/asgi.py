"""The ASGI entry point uvicorn imports in each worker process."""

from lbs_service.app import create_app

app = create_app()
