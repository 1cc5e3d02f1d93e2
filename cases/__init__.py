"""Applications and their status: the case API's client, who may look a case up (verification, lockout), the
application numbers' form, and status subscriptions; with their tables (cases/models.py)."""
