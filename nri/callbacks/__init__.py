"""Lightning callbacks: figures (edge heatmap), timing (training clock), random state (exact
resume), real-data pictures and the dynamic-graph test (real)."""
