"""Lightning callbacks: figures (edge heatmap), timing (training clock), real-data pictures and the
dynamic-graph test (real)."""
