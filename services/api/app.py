"""The API application factory. Settings come in; nothing is built at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from services import db, metrics
from services.api import auth, openapi
from services.api.deps import install_database_unavailable_handler
from services.api.intake import Intake
from services.api.routes import buyers, dashboard, gateway, health, ledger, outcomes, receipts, tlog, views
from services.config import Settings
from services.kafka import clients
from services.kafka.topics import Topics
from services.store.postgres import LedgerStore

log = logging.getLogger(__name__)


PRODUCER_STOP_TIMEOUT_S = 3.0


async def _stop_producer(producer: AIOKafkaProducer) -> None:
    """Flush and stop, but do not hang a shutdown on a broker that is gone (those requests got 503)."""
    try:
        await asyncio.wait_for(producer.stop(), PRODUCER_STOP_TIMEOUT_S)
    except TimeoutError:
        log.warning("the producer did not flush within %.0f s (broker gone?); stopping anyway",
                    PRODUCER_STOP_TIMEOUT_S)


class CoalChainAPI(FastAPI):
    """FastAPI, except that ``POST /v1/events`` goes straight to its plain ASGI endpoint
    (:func:`services.api.routes.gateway.serve`): the gateway's hot path skips the middleware stack, routing
    and dependency injection (most of its CPU time otherwise)."""

    _gateway: tuple[Intake, str] | None = None  # the intake and raw topic, once the lifespan made them

    def gateway_target(self) -> tuple[Intake | None, str]:
        """The intake and the raw topic; (None, "") before the lifespan made them (the gateway answers 503)."""
        if self._gateway is None:
            intake: Intake | None = getattr(self.state, "intake", None)
            if intake is None:  # not started (or stopped): 503
                return None, ""
            self._gateway = (intake, self.state.topics.raw)
        return self._gateway

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == gateway.PATH:
            await gateway.serve(*self.gateway_target(), scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings, *, worker: int = 0, used_challenges: auth.UsedChallenges | None = None
               ) -> FastAPI:
    """The API. ``worker``: this process's index among the API's worker processes (``services.api.cli``; only
    worker 0 runs the rejection recorder); ``used_challenges``: the sign-in challenges' used set they share."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.worker = worker
        app.state.topics = Topics.from_settings(settings)
        async with contextlib.AsyncExitStack() as stack:
            pool = await db.create_pool(settings, role="api", min_size=1, max_size=8)
            stack.push_async_callback(pool.close)
            app.state.store = LedgerStore(pool)
            app.state.auth = auth.AuthService.from_settings(settings, app.state.store, used_challenges)
            producer = clients.producer(settings)
            await producer.start()
            stack.push_async_callback(_stop_producer, producer)
            app.state.producer = producer
            intake = Intake.from_settings(settings, producer, app.state.store)
            await intake.start()
            stack.push_async_callback(intake.stop)
            app.state.intake = intake
            yield

    app = CoalChainAPI(
        title="Taijiao CoalChain API",
        description="太焦线煤炭运销信息共享链 — publish signed events; read blocks, proofs, receipts and views.",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # /docs from local assets: services.api.openapi
    )
    openapi.install(app)
    install_database_unavailable_handler(app)
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
