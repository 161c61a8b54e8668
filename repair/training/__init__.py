"""Training the repair model with LLM Foundry: presets, YAML generation, the model registry."""
