"""The stages (iterators over GOPs, :mod:`svc.pipeline.stages`) and their compositions: encode, decode,
base-layer analytics and one evaluation point. The CLI and the tools call these; the runnable pipeline
definitions in the project's ``pipelines/`` folder compose the same stages."""
