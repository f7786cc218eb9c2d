"""The HTTP server: tiles, OGC API Features, the viewer; it reads the store only."""

from twin.server.app import create_app

__all__ = ["create_app"]
