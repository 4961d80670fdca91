-- Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d), as the owner
-- (POSTGRES_USER coalchain) in its database coalchain: the database the `replica` service keeps its verified
-- copy in, and which service roles may connect to which database (docs/operations.md "Database roles").
CREATE DATABASE coalchain_replica OWNER coalchain;

-- The group roles, made here so that CONNECT can be granted before the first `coalchain migrate`; that
-- migration finds them, adds the LOGIN roles (coalchain_<role>_login) as their members and sets passwords.
DO $$
DECLARE
    kind text;
BEGIN
    FOREACH kind IN ARRAY ARRAY['sequencer', 'replica', 'validator', 'api', 'views', 'witness', 'reader'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'coalchain_' || kind) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', 'coalchain_' || kind);
        END IF;
    END LOOP;
END $$;

-- Grants are per database, so the replica role would otherwise INSERT into the ledger's tables as well: the
-- ledger's database takes every service role but the replica's, the replica's database the replica and readers.
REVOKE CONNECT, TEMPORARY ON DATABASE coalchain FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE coalchain TO coalchain_sequencer, coalchain_validator, coalchain_api,
    coalchain_views, coalchain_witness, coalchain_reader;
REVOKE CONNECT, TEMPORARY ON DATABASE coalchain_replica FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE coalchain_replica TO coalchain_replica, coalchain_reader;
