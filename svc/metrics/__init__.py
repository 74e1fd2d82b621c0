"""Quality, rate and tracking metrics."""
