"""Services: each owns its transactions and calls the domain and the I/O edges."""
