"""gankit: generative adversarial networks that train, from Python and from the command line."""
from ._version import __version__
from .errors import ConfigError, DataError, ExportError, GanKitError, RunError


def __getattr__(name: str):
    # Imported lazily so `import gankit` (and `gankit --help`) stay fast.
    if name == "GAN":
        from .tasks.gan.facade import GAN
        return GAN
    if name == "load_run":
        from .api import load_run
        return load_run
    if name == "export_generator":
        from .export import export_generator
        return export_generator
    if name == "check":
        from .tasks.gan.check import check
        return check
    if name == "load_dataset":
        from .data import load_dataset
        return load_dataset
    raise AttributeError(f"module 'gankit' has no attribute {name!r}")


__all__ = ["GAN", "check", "load_dataset", "load_run", "export_generator", "GanKitError", "DataError",
           "ConfigError", "RunError", "ExportError", "__version__"]
