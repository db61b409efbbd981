"""Pure numpy signal code: no Django imports, tested without a database."""
