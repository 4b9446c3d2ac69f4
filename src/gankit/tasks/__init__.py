"""What a run trains. "image-gan" (tasks/gan.py) is the core's; the others live in gankit.apps,
registered here by the module that builds and loads their runs. Such a module has
`new_run(task, config, out)` (a new run from a RunConfig; `config.data.dataset` is its data) and
`load_task_run(run_dir, config, device, weights_only)` (see gankit.load_run); its run objects offer
the GAN's fit/step/config/run_dir. The core imports those modules only through this table, lazily.
"""
APP_TASKS: dict[str, str] = {"pix2pix": "gankit.apps.translate", "colorize": "gankit.apps.translate",
                             "cyclegan": "gankit.apps.cyclegan", "text": "gankit.apps.text",
                             "audio": "gankit.apps.audio",
                             "semi-supervised": "gankit.apps.semi"}
TRANSLATION_TASKS = ("pix2pix", "colorize", "cyclegan")


def app_module(task: str):  # noqa: ANN201 - a module
    import importlib
    return importlib.import_module(APP_TASKS[task])
