"""Procurement service: domain rules, adapters and HTTP blueprints behind app.py."""
