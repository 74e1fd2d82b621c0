"""Split-DNN feature layer: NanoDet's front on the original frames, its tensors clipped, quantised and
entropy-coded for a detector back half in the cloud (:mod:`svc.features.layer`)."""
