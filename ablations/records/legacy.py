"""Settings of older SCHEMAs, and their meaning in today's settings: how an old record's config
reads now (store.migrate_records), and why a grid may no longer set them (grid/config.py names
today's equivalent)."""

LEGACY_SETTINGS = {
    "standardize": lambda value: {"normalize": "per_pixel" if value else "none"},
}


def upgrade_config(config):
    """A config written under an older SCHEMA, in today's settings (same meaning)."""
    config = dict(config)
    for key, translate in LEGACY_SETTINGS.items():
        if key in config:
            config.update(translate(config.pop(key)))
    return config
