"""What can be checked of docker-compose.yml without a Docker engine."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services import db
from services.cli import COMMANDS, build_parser
from services.kafka.topics import load_topics

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, dict[str, object]]:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services: dict[str, dict[str, object]] = doc["services"]
    return services


def coalchain_services() -> dict[str, dict[str, object]]:
    """The CoalChain services of the compose file (not kafka or postgres, whose commands are their own)."""
    return {name: svc for name, svc in _compose().items() if svc.get("image") == "taijiao/coalchain:latest"}


def test_compose_parses_and_runs_kafka_in_kraft_mode_with_postgres() -> None:
    services = _compose()
    kafka = services["kafka"]
    assert str(kafka["image"]).startswith("apache/kafka:")
    env = kafka["environment"]
    assert isinstance(env, dict) and "controller" in env["KAFKA_PROCESS_ROLES"]
    assert str(services["postgres"]["image"]).startswith("postgres:")
    settings = " ".join(str(a) for a in services["postgres"]["command"])  # type: ignore[attr-defined]
    assert "shared_buffers=" in settings and "max_wal_size=" in settings  # not the image's 128 MB default
    for name, svc in services.items():  # every long-running service; the one-shot jobs are waited on instead
        if svc.get("restart") == "no":
            assert name in ("topics", "migrate", "migrate-replica"), name
            continue
        check = svc.get("healthcheck")
        assert isinstance(check, dict) and check.get("test") and not check.get("disable"), f"{name}: no health check"


def test_every_service_command_is_a_real_coalchain_subcommand() -> None:
    parser = build_parser()
    commands = {name: svc["command"] for name, svc in coalchain_services().items() if "command" in svc}
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


def test_data_lives_on_volumes_where_the_images_write_it() -> None:
    services = _compose()
    kafka = services["kafka"]
    env = kafka["environment"]
    assert isinstance(env, dict) and isinstance(kafka["volumes"], list)
    # the apache/kafka image writes /tmp/kraft-combined-logs unless log.dirs says otherwise
    assert f"kafka-data:{env['KAFKA_LOG_DIRS']}" in kafka["volumes"]
    postgres = services["postgres"]
    assert isinstance(postgres["volumes"], list)
    init = [v for v in postgres["volumes"] if "docker-entrypoint-initdb.d" in v]
    assert init, "something must create the replica's database"
    sql = (ROOT / init[0].split(":")[0]).read_text(encoding="utf-8")
    replica_url = services["replica"]["environment"]["DATABASE_URL"]  # type: ignore[index]
    assert f"CREATE DATABASE {replica_url.rsplit('/', 1)[-1]}" in sql
    api = services["api"]
    assert isinstance(api["volumes"], list) and any(v.startswith("coalchain-home:/var/lib/coalchain")
                                                     for v in api["volumes"])
    dockerfile = (ROOT / "infra" / "Dockerfile").read_text(encoding="utf-8")
    assert "chown coalchain:coalchain /var/lib/coalchain" in dockerfile and "USER coalchain" in dockerfile


def test_three_broker_override_replicates_three_ways_with_two_in_sync() -> None:
    doc = yaml.safe_load((ROOT / "docker-compose.kafka3.yml").read_text(encoding="utf-8"))
    brokers = {n: s for n, s in doc["services"].items() if n.startswith("kafka")}
    assert len(brokers) == 3
    for svc in brokers.values():
        assert svc["environment"]["KAFKA_MIN_INSYNC_REPLICAS"] == 2
        assert len(svc["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == 3
    for name in ("topics", "sequencer", "validator", "replica"):
        env = doc["services"][name]["environment"]
        assert env["COALCHAIN_KAFKA_REPLICATION_FACTOR"] == "3" and env["COALCHAIN_KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert len(env["COALCHAIN_KAFKA_BOOTSTRAP_SERVERS"].split(",")) == 3


def test_docker_compose_config_accepts_both_files(tmp_path: Path) -> None:
    import shutil
    import subprocess

    docker = shutil.which("docker")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True) if docker else None
    if probe is None or probe.returncode != 0:
        pytest.skip("no `docker compose` client on this machine (docker without the compose plugin)")
    env = {"POSTGRES_PASSWORD": "x", "COALCHAIN_DISPATCHER_TOKENS": "t", "PATH": "/usr/bin:/bin:/usr/local/bin",
           **{f"COALCHAIN_DB_PASSWORD_{k.upper()}": k for k in db.ROLES}}
    for files in (["docker-compose.yml"], ["docker-compose.yml", "docker-compose.kafka3.yml"]):
        args = [a for f in files for a in ("-f", str(ROOT / f))]
        done = subprocess.run([str(docker), "compose", *args, "config", "--quiet"], env=env, capture_output=True,
                              text=True, cwd=ROOT)
        assert done.returncode == 0, done.stderr


# the role each long-running compose service connects as (services/db.py ROLES; chosen at its connect calls)
SERVICE_ROLES = {"api": "api", "validator": "validator", "sequencer": "sequencer", "sequencer-standby": "sequencer",
                 "replica": "replica", "views": "views"}


def test_only_the_migrate_jobs_hold_the_owner_password_and_each_service_its_own_role_password() -> None:
    services = coalchain_services()
    for name, svc in services.items():
        if "command" not in svc:
            continue
        env = svc.get("environment")
        assert isinstance(env, dict), name
        url = str(env["DATABASE_URL"])
        passwords = {k for k in env if k.startswith("COALCHAIN_DB_PASSWORD_")}
        if svc["command"] == ["migrate"]:
            assert "${POSTGRES_PASSWORD" in url, name
            continue
        assert "POSTGRES_PASSWORD" not in str(env) and url.startswith("postgresql://coalchain@"), name
        if name in SERVICE_ROLES:
            assert passwords == {f"COALCHAIN_DB_PASSWORD_{SERVICE_ROLES[name].upper()}"}, name
        else:
            assert name == "topics" and not passwords, name  # topics never connects to the database
    assert set(SERVICE_ROLES) == {n for n, s in services.items() if "command" in s and s.get("restart") != "no"}
    migrate_env = services["migrate"]["environment"]
    assert isinstance(migrate_env, dict)
    assert {f"COALCHAIN_DB_PASSWORD_{r.upper()}" for r in SERVICE_ROLES.values()} | {"COALCHAIN_DB_PASSWORD_READER"} \
        <= set(migrate_env)  # migrate sets every password a service uses, and the reader's (status, verify)
    replica = services["replica"]
    assert "migrate-replica" in replica["depends_on"]  # type: ignore[operator]
    replica_db = str(replica["environment"]["DATABASE_URL"]).rsplit("/", 1)[-1]  # type: ignore[index]
    assert str(services["migrate-replica"]["environment"]["DATABASE_URL"]).endswith(f"/{replica_db}")  # type: ignore[index]
