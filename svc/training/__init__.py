"""Training of every learned or designed model, apart from the codecs that use them.

One module per model, each with ``HELP``, ``add_arguments(parser)`` and ``run(args, argv)``, all started
through ``svc-train <model>`` (:mod:`svc.cli.train`):

* :mod:`svc.training.tables`: the block coder's context tables (``svc/enhancement/weights``);
* :mod:`svc.training.restoration`: the zero-bit restoration network (``svc/enhancement/weights``);
* :mod:`svc.training.features`: the feature layer's quantisers and tables (``svc/features/weights``);
* :mod:`svc.training.latent`: the layered latent codec (``svc/latent/weights``).

Training material comes from :mod:`svc.datasets` only, and every trainer refuses an evaluation
source (:func:`svc.datasets.registry.check_training`). No codec module imports this package.
"""
TRAINERS = {"tables": "svc.training.tables", "restoration": "svc.training.restoration",
            "features": "svc.training.features", "latent": "svc.training.latent"}
