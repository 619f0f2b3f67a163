"""The e-bike reference pipeline (and, until it lands, a smoke scenario)."""
