"""Process machinery that knows nothing about AWS: state store, blob files, workers."""
