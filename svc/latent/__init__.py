"""Layered learned latent codec, applied per frame (issue 23).

``g_a`` (stride 16) splits the latent into a base group ``y1`` (with its hyperprior: base payload,
decodes alone) and an enhancement group ``y2`` (its own hyper-latent plus a context network on the
decoded ``y1``); ``g_s`` reconstructs pixels from both, a latent-space transform maps the decoded
``y1`` to NanoDet-g's ``stage2`` tensor so the detector's back half runs without pixels. Variable
rate from one model (gain per rate, learned reconstruction offsets, variable-step hyper-latents as
in CompressAI's VBR models); integer entropy-parameter networks make decoding bit-exact across
machines and thread counts.

* :mod:`svc.latent.codec`: :class:`~svc.latent.codec.LatentCodec` (byte API: ``encode_frame``,
  ``decode_base_features``, ``decode_full``);
* :mod:`svc.latent.model`: the network; :mod:`svc.latent.checkpoint`: training checkpoints (its training,
  ``svc-train latent``, is :mod:`svc.training.latent`; its pictures :mod:`svc.datasets.photos`);
* :mod:`svc.latent.zoo`: shipped weights and their SHA-256.
"""
