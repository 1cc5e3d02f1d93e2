"""Code loaded by the Rasa engine itself (its own Python 3.10 environment): keep it free of our deps."""
