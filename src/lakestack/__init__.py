"""lakestack: the AWS modern data architecture, running for real on one machine."""

__version__ = "0.1.0"

from lakestack.settings import Settings  # noqa: E402


def local(**kwargs):
    """Start lakestack in this process on a free port; use as a context manager.

    >>> with lakestack.local() as stack:
    ...     stack.client("s3").list_buckets()
    """
    from lakestack.inprocess import LocalStack

    return LocalStack(**kwargs)


__all__ = ["Settings", "local", "__version__"]
