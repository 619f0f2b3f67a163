"""pytest plugin: the `lakestack_stack` fixture gives each test module a running lakestack.

    def test_upload(lakestack_stack):
        s3 = lakestack_stack.client("s3")
        s3.create_bucket(Bucket="lake")
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def lakestack_stack():
    from lakestack.inprocess import LocalStack

    with LocalStack() as stack:
        yield stack
