"""The staff web console: curation of the knowledge base (and later, handoff tickets), behind a login."""
