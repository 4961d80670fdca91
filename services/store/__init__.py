"""PostgreSQL ledger store (asyncpg): migrations, block writes with COPY, proof reads."""
