"""The FAQ knowledge base: entries with per-language questions, answers, variants and their legal source."""
