"""The OpenAPI description is complete and valid, a client generated from it works against the real API and
every answer it gets matches the described schema; /docs needs nothing from the network."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import pytest
from openapi_spec_validator import validate

import schemas
from chain_anchor.events import sign_event
from services.api.app import create_app
from services.config import Settings
from services.simulator import participant_signer
from tests.pipeline.conftest import SEED
from tests.publish.conftest import Stack
from tests.views.cdp import browser, chromium_binary

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples" / "valid"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    doc: dict[str, Any] = create_app(Settings()).openapi()
    return doc


def schema_of(spec: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**schema, "components": spec["components"]})


def test_the_description_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    validate(spec)
    assert spec["openapi"].startswith("3.1")


def test_every_route_answers_with_a_described_body(spec: dict[str, Any]) -> None:
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            ok = {s: r for s, r in op["responses"].items() if s.startswith("2")}
            assert ok, (method, path)
            for status, answer in ok.items():
                assert answer.get("content"), (method, path, status)
                for media in answer["content"].values():
                    assert media.get("schema"), (method, path, status)
    assert spec["paths"]["/v1/events/{event_id}"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"]["properties"]["status"]["enum"] == ["sealed", "rejected", "pending"]


def test_publishing_is_described_per_event_type_with_an_example(spec: dict[str, Any]) -> None:
    body = spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    one_of = spec["components"]["schemas"]["CloudEvent"]["oneOf"]
    assert len(one_of) == len(schemas.catalogue())
    validator = schema_of(spec, body["schema"])
    for example in body["examples"].values():
        validator.validate(example["value"])
    broken = json.loads((EXAMPLES / "inventory.StockReported.json").read_text(encoding="utf-8"))
    del broken["data"]["mine_id"]
    assert not validator.is_valid(broken)  # the per-type data schema is really there
    assert not validator.is_valid({**broken, "type": "cn.taijiao.coal.nothing.Such.v1"})


def test_security_schemes_guard_the_private_routes(spec: dict[str, Any]) -> None:
    assert set(spec["components"]["securitySchemes"]) == {"session", "dispatcher"}
    secured = {(m, p): op.get("security") for p, ops in spec["paths"].items() for m, op in ops.items()}
    assert secured[("get", "/v1/rejections")] == [{"session": []}]
    assert all(v == [{"dispatcher": []}] for (_, p), v in secured.items() if p.startswith("/v1/views"))
    assert secured[("get", "/v1/checkpoint")] is None and secured[("post", "/v1/events")] is None


def generate_client(spec: dict[str, Any]) -> str:
    """A small generator: one function per operation (path parameters substituted, the rest as query)."""
    lines = ["import json, urllib.parse, urllib.request", "",
             "def _call(base, method, path, query, body):",
             "    url = base + path + ('?' + urllib.parse.urlencode(query) if query else '')",
             "    data = None if body is None else json.dumps(body).encode()",
             "    req = urllib.request.Request(url, data=data, method=method,"
             " headers={'content-type': 'application/json'})",
             "    with urllib.request.urlopen(req, timeout=30) as r:",
             "        raw = r.read()",
             "        kind = r.headers.get('content-type', '')",
             "        return r.status, (json.loads(raw) if 'json' in kind else raw.decode())",
             ""]
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if "text/event-stream" in json.dumps(op.get("responses", {})):
                continue
            names = re.findall(r"{(\w+)}", path)
            params = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
            args = ", ".join(["base", *names, *(f"{p}=None" for p in params), "body=None"])
            lines += [f"def {op['operationId']}({args}):",
                      f"    query = {{k: v for k, v in {{{', '.join(f'{p!r}: {p}' for p in params)}}}.items()"
                      " if v is not None}",
                      f"    return _call(base, {method.upper()!r}, f{path!r}, query, body)", ""]
    return "\n".join(lines)


@pytest.mark.integration
async def test_a_generated_client_talks_to_the_real_api_and_the_answers_match(
        stack: Stack, spec: dict[str, Any], tmp_path: Path) -> None:
    source = tmp_path / "generated_client.py"
    source.write_text(generate_client(spec), encoding="utf-8")
    module_spec = importlib.util.spec_from_file_location("generated_client", source)
    assert module_spec and module_spec.loader
    client: Any = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(client)
    ops = {(m, p): op for p, o in spec["paths"].items() for m, op in o.items()}

    def call(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        op = ops[(method, path)]
        status, body = getattr(client, op["operationId"])(stack.api_url, *args, **kwargs)
        answer = op["responses"][str(status)]["content"]
        media = next(iter(answer.values()))
        if isinstance(body, str):
            assert media["schema"] == {"type": "string"}
        else:
            schema_of(spec, media["schema"]).validate(body)
        return body

    doc = json.loads((EXAMPLES / "inventory.StockReported.json").read_text(encoding="utf-8"))
    event = sign_event({**doc, "id": str(uuid.uuid4())}, participant_signer(SEED, "jincheng-anthracite-sales"))
    accepted = await asyncio.to_thread(call, "post", "/v1/events", body=event)
    assert accepted["accepted_for_validation"] == [event["id"]]
    for _ in range(600):
        status = await asyncio.to_thread(call, "get", "/v1/events/{event_id}", event["id"])
        if status["status"] == "sealed":
            break
        await asyncio.sleep(0.05)
    assert status["status"] == "sealed", status
    proof = await asyncio.to_thread(call, "get", "/v1/proofs/inclusion", event_id=event["id"])
    assert proof["leaf_index"] == status["leaf_index"]
    block = await asyncio.to_thread(call, "get", "/v1/blocks/latest")
    assert block["height"] >= status["height"]
    assert (await asyncio.to_thread(call, "get", "/v1/checkpoint")).startswith("taijiao-coalchain.cn/ledger/")
    await asyncio.to_thread(call, "get", "/v1/proofs/consistency", first=1, second=proof["tree_size"])
    pending = await asyncio.to_thread(call, "get", "/v1/events/{event_id}", str(uuid.uuid4()))
    assert pending["status"] == "pending"


@pytest.mark.integration
async def test_docs_load_only_local_assets(stack: Stack) -> None:
    def get(path: str) -> tuple[str, bytes]:
        with urllib.request.urlopen(stack.api_url + path, timeout=30) as r:
            return r.headers.get("content-type", ""), r.read()

    _, page = await asyncio.to_thread(get, "/docs")
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.decode())
    assert urls and all(u.startswith(("/docs/assets/", "data:")) for u in urls), urls
    assert "https://" not in page.decode().replace("https://schemas", "")
    for url in urls:
        if url.startswith("/"):
            kind, body = await asyncio.to_thread(get, url)
            assert len(body) > 10_000 and ("javascript" in kind or "css" in kind)


@pytest.mark.integration
@pytest.mark.browser
@pytest.mark.skipif(chromium_binary() is None, reason="chromium is not installed")
async def test_docs_render_in_headless_chromium_without_network(stack: Stack, tmp_path: Path) -> None:
    async with browser(f"{stack.api_url}/docs", tmp_path / "profile", width=1400, height=1000) as page:
        await page.wait_for("document.querySelectorAll('.opblock').length > 20", 30, "Swagger UI's operations")
        text = await page.eval("document.body.innerText")
        shot = await page.screenshot(tmp_path / "docs.png")
    assert "POST\n/v1/events" in text and "/v1/rejections" in text and "Authorize" in text
    assert "Unable to render" not in text and shot.stat().st_size > 20_000
