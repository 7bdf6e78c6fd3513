"""lm-evaluation-harness adapter: task classes, the hidden-state request handler, discovery."""
