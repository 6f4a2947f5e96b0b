"""Helpers every layer may import (devices, kiosk, offline_queue, provisioning,
screens, central): nothing here imports any of them."""
