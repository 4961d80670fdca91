"""Generate ``docs/events.md`` from the JSON Schemas, the rules table and the reference data.

    python -m schemas.gen_docs          # rewrite docs/events.md
    python -m schemas.gen_docs --check  # exit 1 if it would change

A test regenerates the text and compares, so the document can never drift from the schemas.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from schemas.catalogue import AREAS, EventType, catalogue, common_schema
from schemas.refdata import RefData, refdata
from schemas.resources import PACKAGE_DIR
from schemas.rules import RULES

__all__ = ["DOC_PATH", "main", "render"]

DOC_PATH = PACKAGE_DIR.parent / "docs" / "events.md"
_REF = "https://schemas.taijiao-coal.cn/common/v1.json#/$defs/"
_LINKS = ("order_id", "buyer_id", "request_id", "shipment_id", "shipment_ids", "train_id", "mine_id", "lot_id",
          "station", "origin_station", "destination_station", "from_station", "ticket_no", "offer_id",
          "participant_id")
_AREA_TITLES = {"demand": "需求 Demand", "inventory": "库存 Inventory", "transport": "运输 Transport",
                "receipt": "收货 Receipt", "registry": "登记 Registry"}


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: Sequence[Sequence[object]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def _def_name(node: Mapping[str, Any]) -> str | None:
    ref = node.get("$ref")
    return str(ref)[len(_REF):] if isinstance(ref, str) and ref.startswith(_REF) else None


def _type_text(node: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    name = _def_name(node)
    if name is not None:
        target = defs[name]
        if target.get("type") == "object":
            return f"[{name}](#{name.lower()})"
        return f"`{name}` ({_type_text(target, defs)})"
    if "const" in node:
        return f"`\"{node['const']}\"`"
    if "enum" in node:
        values = list(node["enum"])
        if len(values) > 8:
            return f"one of {len(values)} codes"
        return " | ".join(f"`{v}`" for v in values)
    kind = node.get("type")
    if kind == "array":
        return f"array of {_type_text(node['items'], defs)}"
    if kind == "string" and node.get("format"):
        return f"string ({node['format']})"
    return str(kind)


def _constraints(node: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    name = _def_name(node)
    if name is not None and defs[name].get("type") != "object":
        return _constraints(defs[name], defs)
    parts = []
    if "minimum" in node or "maximum" in node:
        parts.append(f"{node.get('minimum', '')}…{node.get('maximum', '')}")
    if "minLength" in node or "maxLength" in node:
        parts.append(f"length {node.get('minLength', 0)}…{node.get('maxLength', '')}")
    if "minItems" in node or "maxItems" in node:
        parts.append(f"{node.get('minItems', 0)}…{node.get('maxItems', '')} items")
    if node.get("uniqueItems"):
        parts.append("unique")
    if "pattern" in node:
        parts.append(f"`{node['pattern']}`")
    if "minProperties" in node:
        parts.append(f"≥ {node['minProperties']} properties")
    return "; ".join(parts)


def _meaning(node: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    title = node.get("title")
    name = _def_name(node)
    if not title and name is not None:
        title = defs[name].get("title", "")
    text = str(title or "")
    if node.get("description"):
        text += f" — {node['description']}"
    return text


def _field_rows(node: Mapping[str, Any], defs: Mapping[str, Any], path: str) -> Iterator[list[object]]:
    required = set(node.get("required", ()))
    for prop, sub in node.get("properties", {}).items():
        pointer = f"{path}/{prop}"
        yield [f"`{pointer}`", _type_text(sub, defs), "yes" if prop in required else "",
               _constraints(sub, defs), _meaning(sub, defs)]
        if sub.get("type") == "object":
            yield from _field_rows(sub, defs, pointer)
        elif sub.get("type") == "array" and sub["items"].get("type") == "object":
            yield from _field_rows(sub["items"], defs, f"{pointer}/*")


def _event_section(e: EventType, defs: Mapping[str, Any], rules: Mapping[str, list[str]]) -> str:
    owner = f"`{e.owner_field}` ({e.owner_kind})" if e.owner_field else "— (admin only)"
    lines = [
        f"### {e.title_zh} {e.name} v{e.version}\n",
        f"{e.title[0].upper()}{e.title[1:]}. {e.description}\n",
        f"- type `{e.type}`, schema `{e.schema_id}` (file `schemas/definitions/{e.area}.{e.name}.v{e.version}.json`)",
        f"- published by: {', '.join(f'`{r}`' for r in e.publisher_roles)}; must own: {owner}",
        f"- subject = `{e.subject_field}`",
    ]
    if rules.get(e.name):
        lines.append(f"- rules: {', '.join(f'`{r}`' for r in rules[e.name])}")
    lines.append("")
    rows = list(_field_rows(e.schema["properties"]["data"], defs, "/data"))
    lines.append(_table(["field", "type", "required", "constraints", "meaning"], rows))
    return "\n".join(lines)


def _catalogue_rows() -> list[list[object]]:
    rows: list[list[object]] = []
    for e in catalogue():
        owner = f"`{e.owner_field}` ({e.owner_kind})" if e.owner_field else "—"
        props = e.schema["properties"]["data"]["properties"]
        links = ", ".join(f"`{k}`" for k in _LINKS if k in props)
        rows.append([f"[{e.name}](#{(e.title_zh + '-' + e.name + '-v' + str(e.version)).lower()})",
                     e.title_zh, e.area, ", ".join(e.publisher_roles), owner, f"`{e.subject_field}`", links])
    return rows


def _rules_by_type() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    names = [e.name for e in catalogue()]
    for r in RULES:
        for name in names if r.applies_to == ("all",) else r.applies_to:
            out.setdefault(name, []).append(r.code)
    return out


def _envelope_section(defs: Mapping[str, Any]) -> str:
    first = catalogue()[0].schema
    rows = []
    for prop, sub in first["properties"].items():
        if prop == "data":
            meaning = "The payload, defined per event type below."
        elif prop == "subject":
            meaning = f"{_meaning({'$ref': sub['$ref']}, defs)} — equals the data field named by the subject field."
        elif prop in ("type", "dataschema"):
            meaning = str(sub.get("title", "")) + " — fixed per event type and version (`const`)."
        else:
            meaning = _meaning(sub, defs)
        rows.append([f"`{prop}`", "yes" if prop in first["required"] else "", _constraints(sub, defs), meaning])
    return _table(["attribute", "required", "constraints", "meaning"], rows)


def _common_sections(defs: Mapping[str, Any]) -> str:
    out = []
    for name, node in defs.items():
        if node.get("type") != "object":
            continue
        out.append(f"### {name}\n\n{node.get('title', '')}. {node.get('description', '')}\n")
        out.append(_table(["field", "type", "required", "constraints", "meaning"], list(_field_rows(node, defs, ""))))
    scalars = [[f"`{n}`", _type_text(d, defs), _constraints(d, defs), _meaning(d, defs)]
               for n, d in defs.items() if d.get("type") != "object"]
    out.append("### Scalar definitions\n")
    out.append(_table(["name", "type", "constraints", "meaning"], scalars))
    return "\n".join(out)


def _flag(ok: bool) -> str:
    return "yes" if ok else "⚠ no"


def _refdata_sections(ref: RefData) -> str:
    line = ref.line
    out = [f"{line['name_zh']} — {line['name_en']}: {line['length_km']} km, {line['station_count']} stations, "
           f"opened {line['opened_year']}; bureau boundary {line['bureau_boundary']}.\n",
           "#### Stations (north → south, then beyond 月山)\n",
           _table(["code", "station", "line", "route km ⚠", "bureau", "code confirmed", "note"],
                  [[f"`{s.code}`", f"{s.name_zh} {s.name_en}", s.line, "" if s.route_km is None else s.route_km,
                    s.bureau, _flag(s.code_confirmed), s.note] for s in ref.stations]),
           "#### Mines (railheads, sidings and capacities are ⚠ plausible defaults)\n",
           _table(["mine_id", "mine", "area", "railhead", "siding", "capacity kt/yr", "products"],
                  [[f"`{m.mine_id}`", f"{m.name_zh} {m.name_en}", m.area, m.railhead_station,
                    "yes" if m.has_siding else "no (trucks)", m.capacity_kt_per_year, ", ".join(m.products)]
                   for m in ref.mines]),
           "#### Products\n",
           _table(["code", "product", "class", "category", "size mm", "note"],
                  [[f"`{p.code}`", f"{p.name_zh} {p.name_en}", p.coal_class, p.category,
                    "" if p.size_max_mm is None else f"{p.size_min_mm}–{p.size_max_mm}", p.note]
                   for p in ref.products]),
           "#### Coal classes (GB/T 5751-2009)\n",
           _table(["code", "class", "lignite limits"],
                  [[f"`{c.code}`", f"{c.name_zh} {c.name_en}", "yes" if c.lignite else ""] for c in ref.coal_classes]),
           "#### Wagons\n",
           _table(["type", "wagon", "rated load kg", "tare kg", "axle load kg", "volume m³"],
                  [[f"`{w.type}`", f"{w.name_zh} {w.name_en}", w.load_limit_kg,
                    f"{w.tare_kg}{'' if w.tare_confirmed else ' ⚠'}", w.axle_load_kg, w.volume_m3]
                   for w in ref.wagons]),
           "#### Demo participants (fictitious; keys come from the simulator's seed)\n",
           _table(["id", "name", "roles", "mines", "stations"],
                  [[f"`{p.id}`", f"{p.name} {p.name_en}", ", ".join(p.roles), ", ".join(p.mines),
                    ", ".join(p.stations)] for p in ref.participants])]
    lim = ref.limits
    out.append("#### Warning limits\n")
    out.append(_table(["limit", "value"], [
        ["source", lim.source],
        ["non-lignite Ad / St,d max", f"{lim.non_lignite_ad_max / 100:.2f} % / {lim.non_lignite_st_d_max / 100:.2f} %"],
        ["lignite Ad / St,d max", f"{lim.lignite_ad_max / 100:.2f} % / {lim.lignite_st_d_max / 100:.2f} %"],
        [f"shipped over {lim.long_haul_km_over} km (non-lignite)",
         f"Qnet,ar ≥ {lim.long_haul_qnet_ar_min_kj_per_kg} kJ/kg, Ad ≤ {lim.long_haul_ad_max / 100:.2f} %, "
         f"St,d ≤ {lim.long_haul_st_d_max / 100:.2f} %"],
        ["truck gross by axles (GB 1589-2016 ⚠ simplified)",
         ", ".join(f"{a} axles {kg} kg" for a, kg in sorted(lim.truck_max_gross_kg_by_axles.items()))],
    ]))
    return "\n".join(out)


def render() -> str:
    """The full text of ``docs/events.md``."""
    defs = common_schema()["$defs"]
    rules_by_type = _rules_by_type()
    parts = [_HEAD, "## Envelope (CloudEvents 1.0, JSON structured mode)\n", _ENVELOPE_TEXT, _envelope_section(defs),
             _CONVENTIONS, "## Catalogue\n", _CATALOGUE_TEXT,
             _table(["event", "中文", "area", "publisher roles", "owner field (kind)", "subject", "linkage fields"],
                    _catalogue_rows()),
             _LINKAGE_TEXT]
    for area in AREAS:
        parts.append(f"## {_AREA_TITLES[area]} events\n")
        parts += [_event_section(e, defs, rules_by_type) for e in catalogue() if e.area == area]
    parts += ["## Common definitions\n", _common_sections(defs), "## Domain rules and warnings\n", _RULES_TEXT,
              _table(["rule", "kind", "applies to", "meaning"],
                     [[f"`{r.code}`", r.kind, ", ".join(r.applies_to), r.description] for r in RULES]),
              _ERRORS_TEXT, "## Reference data (`schemas/data/`)\n", _refdata_sections(refdata()), _GENESIS_TEXT,
              _VERSIONING_TEXT]
    return "\n".join(p.rstrip("\n") + "\n" for p in parts)


_HEAD = """<!-- GENERATED — DO NOT EDIT; run python -m schemas.gen_docs -->
# Events of Taijiao CoalChain 太焦线煤炭运销信息共享链

What mines, the railway, truck carriers and buyers publish. The JSON Schemas under `schemas/definitions/` (Draft
2020-12, one file per event type and version) are the source of truth; this page, the msgspec models in
`schemas/models.py` and the enums of the common schema are generated from them and from the reference data in
`schemas/data/`.

```python
import schemas
event = schemas.validate(raw)          # bytes | str | dict -> schemas.Event, or raises schemas.SchemaError
event.data                             # typed, frozen payload, e.g. schemas.models.WagonsLoadedV1
event.warnings                         # quality / load limits broken (accepted, flagged)
schemas.event_type(event.type)         # area, publisher roles, owner field, subject field
```
"""

_ENVELOPE_TEXT = """Every event is one JSON object. Unknown attributes are rejected (no free-form extensions: every
byte is signed and sealed). `time` is when the event happened, not when it was published; views window by it.
"""

_CONVENTIONS = """## Conventions

- **No floats anywhere.** Masses are integers in kg (`net_weight_kg`), calorific values integers
  (`qnet_ar_kcal_per_kg`, `qnet_ar_kj_per_kg` = MJ/kg × 1000), counts are integers. `1.0` and `1e3` are rejected
  like `"1"`: RFC 8785 would canonicalise them differently and another implementation might round them.
- **Percentages are two-decimal strings**: `"12.35"` means 12.35 %; `"12.3"`, `"12.350"` and `12.35` are invalid.
  There is exactly one way to write a value, so the signed bytes are unambiguous.
  `schemas.hundredths("12.35") == 1235` converts for arithmetic.
- **Units are in the field name** (`_kg`, `_kcal_per_kg`, `_kj_per_kg`, `_pct`, `_mm`, `_cny_per_t`, `_date`).
- **Optional fields are omitted**, never `null`. In the models they are `msgspec.UNSET`.
- **Dates** are `YYYY-MM-DD` calendar dates (the business calendar); **times** are RFC 3339 UTC with `Z`.
- **`time` lies near the validator's clock**: a validator rejects (reason `time-out-of-range`, path `/time`) an
  event whose `time` is more than `event_time_max_future_s` (default 600 s) ahead of its clock or more than
  `event_time_max_past_s` (default 45 days, enough for the demo's replayed history) behind it. Block times never
  come from event times (`docs/ledger-format.md` §6).
- **Integers** all have a maximum far below 2^53 (JSON numbers are IEEE doubles in most languages).
- **Patterns end in `$(?!\\n)`**: Python's `$` also matches before a trailing newline, the lookahead forbids it
  (ECMA-262 and Python read it the same way).
- **Reference data are enums**: stations (telegraph codes), mines, products, coal classes and wagon types come
  from `schemas/data/*.json` (`python -m schemas.codegen` writes them into `common.v1.json`). Participant ids are
  a pattern, not an enum: the registry grows through `ParticipantRegistered` events.
- **Signature**: `signature` is Ed25519 over `TAG_EVENT ‖ RFC 8785(envelope without sigkeyid and signature)`,
  `sigkeyid` the SHA-256 of the signer's raw public key (see `chain_anchor.events`). `schemas.validate` checks the
  form of both attributes; the validators verify the signature, the publisher's role and ownership.
"""

_CATALOGUE_TEXT = """The publisher's participant (from `source`) must hold one of the publisher roles and own what the
owner field names: `participant` = the field is the publisher's own id, `mine` = one of its mines, `station` = one of
its stations (railway bureaus own the stations of their section, carriers the railheads where they run weighbridges).
The subject is the Kafka message key, so all events about one shipment, order, lot or train keep their order.
"""

_LINKAGE_TEXT = """How the events link up (what the pipeline, the dispatcher views and the buyer receipts join on):

- `order_id` (a buyer's demand) → WagonsRequested / WagonsAllocated (per loading station and plan date) →
  WagonsLoaded (`shipment_id`, `order_id`, `buyer_id`, `mine_id`, `lot_id`, origin `station`,
  `destination_station`) → TrainDeparted / TrainArrived (`train_id`, `shipment_ids`) → WagonsUnloaded
  (`shipment_id`) → DeliveryConfirmed / DeliveryDisputed (`shipment_id`, `order_id`, `buyer_id`).
- `lot_id`: LotAssayed (the quality record) → StockReported → WagonsLoaded (分质装车: one lot per shipment).
- TruckWeighed (磅单) carries the railhead `station`, optionally the `order_id` and `shipment_id` it feeds.
- A shipment bound beyond 月山 (YBF) rides two train runs: origin → YBF, then YBF → destination.
"""

_RULES_TEXT = """Checked in the same pass as the schema, on structurally valid events. Errors reject the event;
warnings are attached to the accepted `Event.warnings` (code, path, message) so views can show them. Limits come from
`schemas/data/limits.json` and `wagons.json`.
"""

_ERRORS_TEXT = """## Errors

`schemas.SchemaError` (a `ValueError`) has `.errors`, a list of `ErrorItem(path, rule, message)`, ordered by path,
and `event_type` / `event_id` when known. `path` is a JSON pointer into the event (`/data/wagons/3/net_weight_kg`;
`""` is the whole document). `rule` is the JSON Schema keyword that failed (`required`, `additionalProperties`,
`type`, `enum`, `const`, `pattern`, `format`, `minimum`, `maximum`, `minLength`, `maxLength`, `minItems`,
`maxItems`, `uniqueItems`, `minProperties`), or `json` (not JSON), `not_object`, `unknown-type`, `unknown-version`,
or a domain rule above. All schema errors are reported at once; domain rules run once the schema passes.

Bytes are parsed as strict I-JSON (RFC 7493) by `schemas.ijson.loads` before any schema check, and refused with one
error naming the JSON pointer where the problem is and one of these rules: `utf-8` (not UTF-8), `lone-surrogate`
(a `\\ud800` escape without its pair, or an encoded surrogate), `duplicate-key` (a member named twice in one object),
`integer-too-long` (more than 19 digits), `number-out-of-range` (beyond double range, e.g. `1e999`), `not-a-number`
(`NaN`, `Infinity`), `too-deep` (nested more than 32 levels; the catalogue needs 5), `trailing-data` (anything after
the value), `json` (any other syntax error; a truncated document has path `""`).

```
invalid event cn.taijiao.coal.transport.WagonsLoaded.v1 (id 5eed0000-0000-4000-8000-000000000009): 1 error
  /data/wagons/3/net_weight_kg: net 79480 kg ≠ gross 99300 kg − tare 19920 kg = 79380 kg [net-equals-gross-minus-tare]
```

Examples of every rule: `schemas/examples/invalid/` with the expected path and rule in `schemas/examples/manifest.json`.
The valid examples (`schemas/examples/valid/`) are signed with the keys of simulator seed 0 (see below); after editing
one, re-sign it with `python -m services.simulator.resign schemas/examples/valid/<file>.json`.
"""

_GENESIS_TEXT = """## Genesis participant registry (written by the simulator)

`coalchain simulate` (`services/simulator/`) generates deterministic, causally consistent 太焦线 traffic — lots and
stock, demand, wagon requests and allocations, weigh tickets, loading, trains to 月山 and beyond, unloading, receipts —
every event signed by its publisher, to Kafka or as JSON lines. `coalchain simulate --seed N --write-genesis PATH`
writes the participants the validators trust at the start of the ledger (`services.registry.load_genesis` reads it):

```json
{
  "format": "coalchain-genesis/v1",
  "ledger_id": "taijiao",
  "created": "2025-03-01T00:00:00Z",
  "seed": 0,
  "participants": [
    {"id": "railway-zhengzhou", "name": "郑州铁路局（示例）",
     "name_en": "Zhengzhou railway bureau (demo)", "roles": ["railway"], "mines": [],
     "stations": ["DPF", "CBF", "CZF", "GPF", "JCF", "YBF", "JOF", "XXF"],
     "keys": [{"key_id": "<hex SHA-256 of the raw public key>", "public_key": "<base64 of the 32-byte key>"}]}
  ],
  "validators": [
    {"name": "validator (development)", "key_id": "<hex SHA-256 of the raw public key>",
     "public_key": "<base64 of the 32-byte key>"}
  ]
}
```

- `validators`: the Ed25519 keys whose signed verdict records the sequencer seals (`docs/ledger-format.md` §9);
  a verdict signed by any other key is quarantined (`unknown-validator-key`). `coalchain up` (development) creates
  `$COALCHAIN_HOME/keys/validator.key` and lists it here before the services start; in production list each
  validator's public key by hand and give each validator its key file (`COALCHAIN_VALIDATOR_KEY_FILE`).
  `coalchain trust export` copies this list into the trust file.
- `id` (the `participant_id` of registry events and of `source`), `name`, `name_en`, `roles`, `mines` (mine ids
  it may report for), `stations` (stations it may publish for), `keys` (its trusted Ed25519 keys; one at genesis).
- Keys are derived from the seed: `Signer.from_seed(sha256(f"coalchain-sim/{seed}/{participant_id}").digest())`.
  **Demo only**: anyone knowing the seed can sign as any participant.
- `--write-keys DIR` writes one unencrypted PKCS#8 PEM per participant, `DIR/<participant id>.pem` (mode 0600), for
  demos where real publishers (the gateway, a test client) sign as a simulated participant.
"""

_VERSIONING_TEXT = """## Versioning

- A published schema version is never changed in a way that rejects an event it accepted: a change of meaning or
  shape is a new version (`…/v2.json`, `type` `….v2`), published beside the old one.
- Adding a value to a reference-data enum (a new station, mine or product) is a compatible change made in
  `schemas/data/` and regenerated; removing or renaming one needs a new version of the common schema.
- Warnings (limits) may be tightened or loosened at any time: they never reject an event.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.gen_docs", description="write docs/events.md")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if the file would change")
    parser.add_argument("--out", type=Path, default=DOC_PATH)
    args = parser.parse_args(argv)
    text = render()
    current = args.out.read_text(encoding="utf-8") if args.out.exists() else None
    if current == text:
        return 0
    if args.check:
        sys.stderr.write(f"stale: {args.out}\n")
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
