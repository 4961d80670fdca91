-- Least-privilege database roles (docs/operations.md "Database roles"). The migrating role owns every table;
-- each service connects as its own LOGIN role, a member of one NOLOGIN group role that holds the grants:
--
--   coalchain_sequencer  SELECT; INSERT ledger_blocks, ledger_events, ledger_nodes (sealing)
--   coalchain_replica    SELECT; INSERT ledger_blocks, ledger_events, ledger_nodes (a verified copy)
--   coalchain_validator  SELECT; INSERT receipt_claims
--   coalchain_api        SELECT; INSERT event_rejections (the rejected-topic recorder)
--   coalchain_views      SELECT; INSERT, UPDATE, DELETE, TRUNCATE views_* (derived, rebuilt at will)
--   coalchain_witness    SELECT; INSERT ledger_cosigned_checkpoints (the cosigner)
--   coalchain_reader     SELECT (verify, reconcile, status, trust export)
--
-- Nobody but the owner may UPDATE, DELETE, TRUNCATE, ALTER or DROP a ledger table, and only a superuser may
-- SET session_replication_role (which would silence the append-only triggers of 0001).
--
-- Roles belong to the whole cluster, grants to one database. Several databases of one cluster may run this at
-- the same moment (the migration lock is per database), so a role another migration created meanwhile is not
-- an error. Roles that already exist (created with passwords by the operator beforehand) are left as they are.
--
-- This file only defines two functions; the migration runner (services/store/migrate.py) calls both after
-- every run, whether it applied anything or not: this file's number is lower than migrations shipped before
-- it, so on a new database it runs before the tables of 0007 and later exist; a database restored without
-- its privileges (pg_restore --no-privileges), or into a cluster without the roles, gets them back from
-- `coalchain migrate`. A later migration changing the roles or grants replaces the functions.

-- Creates the roles that are missing; the runner calls it (and the next function) after every run. A prefix
-- other than the default is for tests only.
CREATE OR REPLACE FUNCTION coalchain_ensure_roles(prefix text DEFAULT 'coalchain_') RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    kind text;
    grp text;
    usr text;
BEGIN
    FOREACH kind IN ARRAY ARRAY['sequencer', 'replica', 'validator', 'api', 'views', 'witness', 'reader'] LOOP
        grp := prefix || kind;
        usr := grp || '_login';
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = grp) THEN
                BEGIN
                    EXECUTE format('CREATE ROLE %I NOLOGIN', grp);
                EXCEPTION WHEN duplicate_object OR unique_violation THEN  -- made meanwhile by another database's run
                    NULL;
                END;
            END IF;
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = usr) THEN
                BEGIN
                    EXECUTE format('CREATE ROLE %I LOGIN INHERIT', usr);
                EXCEPTION WHEN duplicate_object OR unique_violation THEN
                    NULL;
                END;
            END IF;
            IF NOT EXISTS (SELECT FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                           JOIN pg_roles u ON u.oid = m.member WHERE g.rolname = grp AND u.rolname = usr) THEN
                BEGIN
                    EXECUTE format('GRANT %I TO %I', grp, usr);
                EXCEPTION WHEN duplicate_object OR unique_violation THEN
                    NULL;
                END;
            END IF;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'the migrating role % cannot create the role % or make % a member of it', current_user,
                grp, usr
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'create the roles beforehand (docs/operations.md "Database roles"), give the migrating'
                             ' role CREATEROLE, or set COALCHAIN_DB_ROLES=false';
        END;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION coalchain_ensure_roles(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION coalchain_grant_privileges() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    kinds constant text[] := ARRAY['sequencer', 'replica', 'validator', 'api', 'views', 'witness', 'reader'];
    ledger constant text[] := ARRAY['ledger_blocks', 'ledger_events', 'ledger_nodes'];
    writes constant text[][] := ARRAY[  -- {group role, table (LIKE pattern), privileges}
        ARRAY['coalchain_sequencer', 'ledger_blocks', 'INSERT'],
        ARRAY['coalchain_sequencer', 'ledger_events', 'INSERT'],
        ARRAY['coalchain_sequencer', 'ledger_nodes', 'INSERT'],
        ARRAY['coalchain_replica', 'ledger_blocks', 'INSERT'],
        ARRAY['coalchain_replica', 'ledger_events', 'INSERT'],
        ARRAY['coalchain_replica', 'ledger_nodes', 'INSERT'],
        ARRAY['coalchain_validator', 'receipt_claims', 'INSERT'],
        ARRAY['coalchain_api', 'event_rejections', 'INSERT'],
        ARRAY['coalchain_views', 'views\_%', 'INSERT, UPDATE, DELETE, TRUNCATE'],
        ARRAY['coalchain_witness', 'ledger_cosigned_checkpoints', 'INSERT']];
    kind text;
    w text[];
    t record;
    seq text;
BEGIN
    FOREACH kind IN ARRAY kinds LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', 'coalchain_' || kind);
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', 'coalchain_' || kind);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %I', 'coalchain_' || kind);
        EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA public TO %I', 'coalchain_' || kind);
    END LOOP;
    FOREACH w SLICE 1 IN ARRAY writes LOOP
        FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname LIKE w[2] LOOP
            IF w[3] <> 'INSERT' AND t.relname = ANY (ledger) THEN
                RAISE EXCEPTION 'ledger table % is append-only: % may not be granted', t.relname, w[3];
            END IF;
            EXECUTE format('GRANT %s ON %I TO %I', w[3], t.relname, w[1]);
            FOR seq IN SELECT pg_get_serial_sequence(quote_ident(t.relname), a.attname) FROM pg_attribute a
                       WHERE a.attrelid = quote_ident(t.relname)::regclass AND a.attnum > 0 AND NOT a.attisdropped LOOP
                IF seq IS NOT NULL THEN  -- bigserial / identity columns: nextval on INSERT
                    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO %I', seq, w[1]);
                END IF;
            END LOOP;
        END LOOP;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION coalchain_grant_privileges() FROM PUBLIC;
