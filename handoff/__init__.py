"""Handing a conversation to people: tickets in queues (support, officers), their transcript and timing."""
