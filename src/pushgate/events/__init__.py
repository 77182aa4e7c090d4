"""The event bus: tells waiting streams that something they watch has changed.

Backends: ``postgres`` (LISTEN/NOTIFY), ``redis`` (pub/sub), ``memory``.
"""

from pushgate.events.bus import EventBus, Subscription, create_bus

__all__ = ["EventBus", "Subscription", "create_bus"]
