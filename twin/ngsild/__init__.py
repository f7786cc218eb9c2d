"""NGSI-LD: the context API's data model, JSON-LD handling and query languages."""

__all__: list[str] = []
