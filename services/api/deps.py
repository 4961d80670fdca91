"""Dependencies shared by the routes (``Annotated`` aliases, as in the FastAPI full-stack template)."""

from __future__ import annotations

import logging
from typing import Annotated

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from services.config import Settings
from services.errors import Unreachable
from services.kafka.topics import Topics
from services.store.postgres import LedgerStore

log = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_S = "5"

# what asyncpg and the socket layer raise while PostgreSQL is down or restarting
DATABASE_DOWN: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,  # connection lost, refused at startup of the server
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, cannot connect now, crash shutdown
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.InterfaceError,  # "connection is closed" on a pooled connection the server dropped
    ConnectionError,  # refused / reset while the pool reconnects
    Unreachable,
)


def install_database_unavailable_handler(app: FastAPI) -> None:
    """While PostgreSQL is down, every route that needs it answers 503 + Retry-After (not 500)."""

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": f"the ledger database is not reachable: {type(exc).__name__}"},
                            status_code=503, headers={"Retry-After": DATABASE_RETRY_AFTER_S})

    for exc in DATABASE_DOWN:
        app.add_exception_handler(exc, unavailable)


def get_settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


def get_store(request: Request) -> LedgerStore:
    store: LedgerStore | None = getattr(request.app.state, "store", None)
    if store is None:
        raise HTTPException(503, "the ledger database is not reachable", headers={"Retry-After": "5"})
    return store


def get_producer(request: Request) -> AIOKafkaProducer:
    producer: AIOKafkaProducer | None = getattr(request.app.state, "producer", None)
    if producer is None:
        raise HTTPException(503, "the broker is not reachable", headers={"Retry-After": "5"})
    return producer


def get_topics(request: Request) -> Topics:
    t: Topics = request.app.state.topics
    return t


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[LedgerStore, Depends(get_store)]
ProducerDep = Annotated[AIOKafkaProducer, Depends(get_producer)]
TopicsDep = Annotated[Topics, Depends(get_topics)]
