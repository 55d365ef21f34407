"""The only code that touches DNS and sockets: resolver wrapper, port/SMTP/TLS probes."""
