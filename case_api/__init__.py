"""The contract with the migration service's case system (openapi.yaml) and its sandbox implementation."""
