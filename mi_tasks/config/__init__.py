"""What every settings family shares: field descriptions, coercion, cache keys."""
from .fields import Settings, Spec, settings_key, setting

__all__ = ["Settings", "Spec", "setting", "settings_key"]
