"""One package per AWS service: provider.py (one method per operation) plus the
service's own model and rules, with no HTTP in them."""
