"""Civic self-service kiosk: application core (no Kivy here)."""
__version__ = "0.1.0"
