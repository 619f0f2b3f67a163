"""Everything protocol-shaped: botocore specs, wire protocols, SigV4, the gateway, errors, ARNs."""
