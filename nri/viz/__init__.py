"""Figures: edge heatmaps (heatmap), inference and run pictures (infer), skeletons and courts (real)."""
