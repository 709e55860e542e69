"""Recorded data prepared into the datamodule's layout: CMU motion capture, basketball tracking."""
