"""The engine's model: training it from the knowledge base (fingerprinted, reused), swapping it into a running
engine, and retraining in the background after staff publish."""
