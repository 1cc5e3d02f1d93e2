"""Running the assistant: the command line (`python -m assistant`), the launcher that starts every service,
the loopback balancer, the terminal chat and key rotation."""
