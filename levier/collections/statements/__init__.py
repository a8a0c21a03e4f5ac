"""Bank statements in (camt.053, CFONB 120, OFX): pure parsers, no database."""
