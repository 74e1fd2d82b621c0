"""Configuration: one typed schema (:mod:`svc.config.schema`) and one loader (:mod:`svc.config.loader`)."""
from svc.config.loader import (CONFIG_DIR, PROJECT_ROOT, apply, dump_yaml, load_config, parse_override,
                               read_yaml, resolve_path, to_mapping)
from svc.config.schema import (AnalyticsConfig, BaseConfig, EnhancementConfig, RoiConfig, SvcConfig,
                               TrackerConfig)

__all__ = ["AnalyticsConfig", "BaseConfig", "EnhancementConfig", "RoiConfig", "SvcConfig", "TrackerConfig",
           "CONFIG_DIR", "PROJECT_ROOT", "apply", "dump_yaml", "load_config", "parse_override", "read_yaml",
           "resolve_path", "to_mapping"]
