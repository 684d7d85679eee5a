"""Scheduled jobs. Each is a plain function of the clock; app.py wires it to a schedule."""
