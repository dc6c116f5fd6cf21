"""Encore desktop UI: PySide6 widgets over the `app` and `audio` public APIs."""
