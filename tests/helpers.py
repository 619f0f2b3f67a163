"""Small helpers shared by test modules (importable because tests/conftest.py puts this
folder on sys.path)."""

import pytest
from botocore.exceptions import ClientError


def error_of(call, *args, **kwargs) -> dict:
    """The error response of a boto3 call that must fail."""
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return caught.value.response
