"""Simulated stand-ins for paid services (named as such wherever they appear)."""
