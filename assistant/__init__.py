"""Shared core of the migration assistant: settings, i18n, language detection, privacy, launcher."""
