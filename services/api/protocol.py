"""uvicorn's httptools protocol, with ``POST /v1/events`` answered from the parser's callbacks.

Every request goes through uvicorn's :class:`~uvicorn.protocols.http.httptools_impl.HttpToolsProtocol` as
usual — except a plain ``POST /v1/events`` (``content-length`` within :data:`~services.api.routes.gateway.
MAX_REQUEST_BYTES`, no ``transfer-encoding``, no ``expect: 100-continue``, no upgrade, nothing pipelined
ahead of it, under uvicorn's concurrency limit). That one is answered by :class:`GatewayProtocol` itself: the
body is collected in ``on_body``, and once it is complete the gateway's checks run at once
(:func:`services.api.routes.gateway.parse`, :meth:`services.api.intake.Intake.check_now`), the records join
the turn's publish (:meth:`~services.api.intake.Intake.submit`) and the answer is written by the delivery
future's callback. No ASGI scope, task, receive/send messages or middleware per request; the same checks, the
same status codes, bodies and headers (``tests/publish/test_fast_path.py`` holds the two paths to that).
A request whose event names a participant or key the gateway does not know yet (the registry is refolded
first) runs :func:`services.api.routes.gateway.answer_admitted` as a task instead. Requests answered here are
no uvicorn tasks, so uvicorn's ``limit_concurrency`` counts them only as connections; the gateway's own
``gateway_max_in_flight`` bounds them as before.

``coalchain api`` serves with it (:func:`services.api.cli.server_options`); an app served by plain uvicorn
(or over ASGI in tests) answers the same route through :func:`services.api.routes.gateway.serve`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from services.api.intake import Intake
from services.api.routes import gateway

log = logging.getLogger(__name__)

_PATH = gateway.PATH.encode("ascii")


class _Event:
    """What uvicorn's protocol calls on a request's ``message_event`` (nothing waits on it here)."""

    __slots__ = ()

    def set(self) -> None:
        pass


_NO_EVENT = _Event()


class _GatewayCycle:
    """One fast-path request: the attributes uvicorn's protocol reads of its current cycle, and the body."""

    __slots__ = ("body", "disconnected", "keep_alive", "more_body", "response_complete")

    message_event = _NO_EVENT

    def __init__(self, keep_alive: bool) -> None:
        self.body = bytearray()
        self.more_body = True
        self.disconnected = False
        self.response_complete = False
        self.keep_alive = keep_alive


class GatewayProtocol(HttpToolsProtocol):
    """See the module's docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from services.api.app import CoalChainAPI

        app: Any = self.app
        while app is not None and not isinstance(app, CoalChainAPI):  # under uvicorn's middleware
            app = getattr(app, "app", None)
        self.api: CoalChainAPI | None = app

    def on_headers_complete(self) -> None:
        cycle = self._fast_cycle()
        if cycle is None:
            super().on_headers_complete()
            return
        self.cycle = cycle  # type: ignore[assignment]

    def _fast_cycle(self) -> _GatewayCycle | None:
        """A fast-path cycle for this request, or None to serve it the ASGI way."""
        parser = self.parser
        if self.url.partition(b"?")[0] != _PATH or parser.get_method() != b"POST" or self.expect_100_continue:
            return None
        if self.root_path or parser.should_upgrade() or self.api is None:
            return None
        if self.cycle is not None and not self.cycle.response_complete:  # pipelined: uvicorn queues it
            return None
        if self.limit_concurrency is not None and (
            len(self.connections) >= self.limit_concurrency or len(self.tasks) >= self.limit_concurrency
        ):
            return None
        length = -1
        for name, value in self.headers:
            if name == b"content-length":
                if length >= 0 or not value.isdigit():
                    return None
                length = int(value)
            elif name == b"transfer-encoding":
                return None
        if not 0 <= length <= gateway.MAX_REQUEST_BYTES:
            return None
        http_version = parser.get_http_version()
        return _GatewayCycle(keep_alive=http_version != "1.0" and parser.should_keep_alive())

    def on_body(self, body: bytes) -> None:
        cycle: Any = self.cycle
        if type(cycle) is _GatewayCycle:
            if not cycle.response_complete:
                cycle.body += body
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        cycle: Any = self.cycle
        if type(cycle) is _GatewayCycle:
            if not cycle.response_complete and cycle.more_body:
                cycle.more_body = False
                self._answer(cycle)
            return
        super().on_message_complete()

    # ---- the gateway --------------------------------------------------------------------------------------
    def _answer(self, cycle: _GatewayCycle) -> None:
        assert self.api is not None
        intake, topic = self.api.gateway_target()
        refusal = gateway.admission(intake)
        if refusal is not None:
            self._respond(cycle, refusal)
            return
        assert intake is not None
        body = bytes(cycle.body)
        cycle.body = bytearray()
        try:
            parsed = gateway.parse(body)
            if isinstance(parsed, gateway.Answer):
                self._done(cycle, intake, parsed)
                return
            items, is_list = parsed
            result = intake.check_now(items, is_list=is_list)
            if result is None:  # the registry is refolded first: the general path, as a task
                self._later(cycle, intake, topic, body)
                return
            checked, errors = result
            if errors:
                self._done(cycle, intake, gateway.refused_events(errors))
                return
            waiter = intake.submit(topic, checked)
        except Exception:
            log.exception("POST %s failed", gateway.PATH)
            self._done(cycle, intake, gateway.Answer(500, {"detail": "Internal Server Error"}))
            return

        def delivered(f: asyncio.Future[str | None]) -> None:
            try:
                reason = f.result()
            except BaseException as e:  # cancelled (shutting down)
                reason = f"the broker did not accept the events: {type(e).__name__}"
            if reason is None:
                self._done(cycle, intake, gateway.accepted(checked))
            else:
                intake.broker_down(reason)
                self._done(cycle, intake, gateway.broker_unavailable(reason))

        waiter.add_done_callback(delivered)

    def _later(self, cycle: _GatewayCycle, intake: Intake, topic: str, body: bytes) -> None:
        async def read(limit: int) -> bytes:
            return body

        async def run() -> None:
            try:
                result = await gateway.answer_admitted(intake, topic, read)
            except Exception:
                log.exception("POST %s failed", gateway.PATH)
                result = gateway.Answer(500, {"detail": "Internal Server Error"})
            self._done(cycle, intake, result)

        task = self.loop.create_task(run())
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    def _done(self, cycle: _GatewayCycle, intake: Intake, result: gateway.Answer) -> None:
        intake.release()
        self._respond(cycle, result)

    def _respond(self, cycle: _GatewayCycle, result: gateway.Answer) -> None:
        """Write the answer as uvicorn's ``RequestResponseCycle.send`` would, and finish the cycle."""
        payload = gateway.encode(result.body)
        if not cycle.disconnected:
            content = [STATUS_LINE[result.status]]
            for name, value in self.server_state.default_headers:
                content += (name, b": ", value, b"\r\n")
            content.append(b"content-type: application/json\r\n")
            if result.retry_after:
                content += (b"retry-after: ", result.retry_after.encode(), b"\r\n")
            content += (b"content-length: ", str(len(payload)).encode(), b"\r\n")
            if not cycle.keep_alive:
                content.append(b"connection: close\r\n")
            content += (b"\r\n", payload)
            self.transport.write(b"".join(content))
        cycle.response_complete = True
        if not cycle.keep_alive and not cycle.disconnected:
            self.transport.close()
        gateway.counted(result)
        if not cycle.disconnected:
            self.on_response_complete()
