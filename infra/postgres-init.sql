-- Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d): the database the
-- `replica` service keeps its verified copy in. The replica applies its own migrations on start.
CREATE DATABASE coalchain_replica OWNER coalchain;
