"""The email: render, message, signed links, transports."""
