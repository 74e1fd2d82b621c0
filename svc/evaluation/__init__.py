"""Tracking evaluation on the HEVC CTC sequences with SFU-HW-Tracks-v1 (``svc-eval-tracking``)."""
