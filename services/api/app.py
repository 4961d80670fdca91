"""The API application factory. Settings come in; nothing is built at import time."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services import db, metrics
from services.api import auth, openapi
from services.api.routes import buyers, dashboard, gateway, health, ledger, outcomes, receipts, tlog, views
from services.config import Settings
from services.kafka import clients
from services.kafka.topics import Topics
from services.store.postgres import LedgerStore

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.topics = Topics.from_settings(settings)
        async with contextlib.AsyncExitStack() as stack:
            pool = await db.create_pool(settings, min_size=1, max_size=8)
            stack.push_async_callback(pool.close)
            app.state.store = LedgerStore(pool)
            app.state.auth = auth.AuthService.from_settings(settings, app.state.store)
            producer = clients.producer(settings)
            await producer.start()
            stack.push_async_callback(producer.stop)
            app.state.producer = producer
            yield

    app = FastAPI(
        title="Taijiao CoalChain API",
        description="太焦线煤炭运销信息共享链 — publish signed events; read blocks, proofs, receipts and views.",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # /docs from local assets: services.api.openapi
    )
    openapi.install(app)
    app.include_router(health.router)
    app.include_router(gateway.router)
    app.include_router(ledger.router)
    app.include_router(views.router)
    app.include_router(dashboard.router)
    app.include_router(receipts.router)
    app.include_router(auth.router)
    app.include_router(buyers.router)
    app.include_router(outcomes.router)
    app.include_router(tlog.router)  # C2SP tlog-tiles, block events, trust set, cosigned checkpoint
    metrics.instrument(app)  # /metrics, request counts and logs
    return app
