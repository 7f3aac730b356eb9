"""The package version, in a module of its own: the transport and the server read it without importing
``facereco`` (whose ``__init__`` imports the client, which imports the transport)."""

__version__ = "0.1.0"
