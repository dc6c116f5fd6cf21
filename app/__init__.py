"""Encore application core: platform client, session, streaming, the remix document. No widgets."""
