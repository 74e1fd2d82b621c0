"""svc: scalable video coding for humans and machines.

One bitstream, two consumers: an HEVC base layer that analytics (detection, tracking) run on
alone, and a learned enhancement layer that restores full quality for viewers.
"""
__version__ = "0.1.0"
