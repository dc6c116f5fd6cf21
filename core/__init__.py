"""What the studio and the platform share: the wire contract, the remix document's mapping to the
engine, text rules, links, lineage, wording, FLAC decoding and the sealed-stem format.

Both `app/` (the client) and `server/` (the platform) import this package; it imports nothing
of either, and of the engine (`audio/`) only what a render or a decode needs. The layers are
checked by import-linter (pyproject.toml, tests/test_layers.py)."""
