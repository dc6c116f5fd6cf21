"""The Encore reference platform: accounts, rights, stem delivery, submissions."""
