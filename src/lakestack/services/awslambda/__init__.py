"""AWS Lambda (Python runtimes): functions that run for real in worker processes."""
