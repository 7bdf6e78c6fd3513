"""What every settings family shares: field descriptions, coercion, cache keys, renamed keywords."""
from .fields import Settings, Spec, settings_key, setting
from .renamed import renamed_attribute, renamed_keywords

__all__ = ["Settings", "Spec", "renamed_attribute", "renamed_keywords", "setting", "settings_key"]
