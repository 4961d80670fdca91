"""The sequencer: accepted events -> signed blocks in PostgreSQL -> the blocks topic."""
