"""Custom actions for the Rasa engine (rasa-sdk action server, run in the main environment)."""
