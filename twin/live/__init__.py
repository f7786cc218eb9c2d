"""Live fan-out: joined building values pushed to every listener (``/live``)."""

from twin.live.hub import Listener, LiveEvent, LiveHub

__all__ = ["Listener", "LiveEvent", "LiveHub"]
