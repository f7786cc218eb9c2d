"""``twin simulate``: plausible live readings for a dataset's buildings, written over NGSI-LD."""

from twin.sim.readings import BuildingProfile, profile_of, readings_at

__all__ = ["BuildingProfile", "profile_of", "readings_at"]
