"""IAM: identities, credentials, policies and the policy evaluation engine."""
