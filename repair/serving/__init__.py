"""Serving the repair model with Triton Inference Server: the model repository (`repository`), the
embedded server runner (`server`), the gRPC client IDE back ends use (`client`), rollouts
(`rollout`) and the vLLM-backend variant for GPU fleets (`vllm_variant`)."""
