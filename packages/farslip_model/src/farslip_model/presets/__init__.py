"""Bundled training presets (YAML), read with :func:`farslip_model.config.load_config`."""
