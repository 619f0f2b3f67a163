"""STS: temporary credentials (AssumeRole, GetSessionToken) and GetCallerIdentity."""
