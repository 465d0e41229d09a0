"""Agency apps (OAuth clients), their purposes, and citizens' consents."""
