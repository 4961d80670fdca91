"""What can be checked of docker-compose.yml without a Docker engine."""

from __future__ import annotations

from pathlib import Path

import yaml

from services.cli import COMMANDS, build_parser
from services.kafka.topics import load_topics

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, dict[str, object]]:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services: dict[str, dict[str, object]] = doc["services"]
    return services


def test_compose_parses_and_runs_kafka_in_kraft_mode_with_postgres() -> None:
    services = _compose()
    kafka = services["kafka"]
    assert str(kafka["image"]).startswith("apache/kafka:")
    env = kafka["environment"]
    assert isinstance(env, dict) and "controller" in env["KAFKA_PROCESS_ROLES"]
    assert str(services["postgres"]["image"]).startswith("postgres:")
    for name in ("kafka", "postgres", "api"):
        assert "healthcheck" in services[name], name


def test_every_service_command_is_a_real_coalchain_subcommand() -> None:
    parser = build_parser()
    commands = {name: svc["command"] for name, svc in _compose().items() if "command" in svc}
    assert {"api", "validator", "sequencer", "views", "topics", "migrate"} <= set(commands)
    for name, command in commands.items():
        assert isinstance(command, list) and command, name
        assert command[0] in COMMANDS, f"{name}: `coalchain {command[0]}` does not exist"
        parser.parse_args([str(c) for c in command])  # exits (SystemExit) on unknown options


def test_production_producer_settings_are_configuration_not_code() -> None:
    env = _compose()["api"]["environment"]
    assert isinstance(env, dict)
    assert env["COALCHAIN_KAFKA_ACKS"] == "all"
    assert env["COALCHAIN_KAFKA_ENABLE_IDEMPOTENCE"] == "true"


def test_topic_list_matches_infra_definition() -> None:
    specs = load_topics()
    assert {s.name for s in specs.values()} == {
        "coal.events.v1", "coal.events.accepted.v1", "coal.events.rejected.v1", "coal.ledger.blocks.v1",
        "coal.ledger.checkpoints.v1",
    }
    assert specs["accepted"].partitions == 1, "the accepted topic is the total order: one partition"
    assert specs["blocks"].partitions == 1
    # the compose topic job creates exactly these, from the same file
    assert _compose()["topics"]["command"] == ["topics"]
