"""The API application factory. Settings come in; nothing is built at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.api.routes import health
from services.config import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        yield

    app = FastAPI(
        title="Taijiao CoalChain API",
        description="太焦线煤炭运销信息共享链 — publish signed events; read blocks, proofs, receipts and views.",
        version="1",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    return app
