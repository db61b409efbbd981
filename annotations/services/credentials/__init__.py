"""Credentials beyond the password: API tokens (tokens.py) and two-factor sign-in (two_factor.py)."""
