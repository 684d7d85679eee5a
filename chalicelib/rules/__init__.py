"""The seed's business rules as pure functions: no AWS, no I/O, tested in milliseconds."""
