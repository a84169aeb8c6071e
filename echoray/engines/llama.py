"""A lean batched forward pass for Llama-architecture models over a slot KV cache
(engine layer, torch only).

Why not call the transformers model each step: at 135M parameters the arithmetic per step
is small and per-layer Python overhead dominates; the transformers forward also keeps one
cache per call, which cannot batch sequences of different lengths that join at any step.
This runner reuses the loaded transformers weights (q/k/v and gate/up fused into one
matrix each) and keeps one preallocated cache with a slot per sequence:

    k_cache, v_cache: [layers, slots, kv_heads, capacity, head_dim]

``forward`` runs B sequences over t new tokens each (decode: t = 1; prefill: B = 1) on a
contiguous range of slots, so attention reads cache *views* rather than gathered copies.
The caller keeps active sequences packed in the low slots (see ``move_slot``). Outputs
match the transformers model (checked by a test against its logits).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


class LlamaRunner:
    """Batched incremental forward over a slot KV cache; see the module docstring."""

    def __init__(
        self, model: Any, max_slots: int, max_len: int, initial_capacity: int = 256
    ) -> None:
        config = model.config
        if config.model_type not in {"llama", "mistral", "qwen2"} or getattr(
            config, "attention_bias", False
        ):
            raise ValueError(f"LlamaRunner does not support model_type {config.model_type!r}")
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        self.n_heads = config.num_attention_heads
        self.n_kv = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.n_heads
        self.hidden = config.hidden_size
        self.eps = config.rms_norm_eps
        self.max_slots = max_slots
        self.max_len = max_len
        inner = model.model
        self.embed = inner.embed_tokens.weight
        self.final_norm = inner.norm.weight
        # On CPU the matrix products go to numpy's OpenBLAS, measured about 1.5-2x faster
        # than torch's MKL for these skinny products on the AMD EPYC machines we run on
        # (see BENCHMARKS.md, `inference`); weights are stored transposed for it.
        self.use_numpy_blas = self.device.type == "cpu" and self.dtype == torch.float32
        self.lm_head = self._prepare(model.lm_head.weight)
        self.vocab_size = model.lm_head.weight.shape[0]
        self.layers = [self._fuse(layer) for layer in inner.layers]
        self._rope = self._rope_table(config, max_len)
        self.capacity = min(initial_capacity, max_len)
        shape = (len(self.layers), max_slots, self.n_kv, self.capacity, self.head_dim)
        self.k_cache = torch.zeros(shape, dtype=self.dtype, device=self.device)
        self.v_cache = torch.zeros(shape, dtype=self.dtype, device=self.device)

    # --- setup --------------------------------------------------------------------------

    def _prepare(self, weight: torch.Tensor) -> Any:
        """A [out, in] weight as the matmul backend wants it."""
        if self.use_numpy_blas:
            return np.ascontiguousarray(weight.detach().numpy().T)  # [in, out]
        return weight.detach().contiguous()

    def _fuse(self, layer: Any) -> tuple[Any, ...]:
        attn, mlp = layer.self_attn, layer.mlp
        qkv = torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight])
        gate_up = torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight])
        return (
            layer.input_layernorm.weight,
            self._prepare(qkv),
            self._prepare(attn.o_proj.weight),
            layer.post_attention_layernorm.weight,
            self._prepare(gate_up),
            self._prepare(mlp.down_proj.weight),
        )

    def _linear(self, x: torch.Tensor, weight: Any) -> torch.Tensor:
        if not self.use_numpy_blas:
            return F.linear(x, weight)
        flat = x.reshape(-1, x.shape[-1])
        out = np.matmul(flat.numpy(), weight)  # releases the GIL, like torch
        return torch.from_numpy(out).view(*x.shape[:-1], out.shape[-1])

    def _rope_table(self, config: Any, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        params = getattr(config, "rope_parameters", None) or {}
        rope_type = params.get("rope_type", "default")
        if rope_type != "default":
            raise ValueError(f"LlamaRunner supports default RoPE only, not {rope_type!r}")
        theta = params.get("rope_theta", getattr(config, "rope_theta", 10000.0))
        exponents = torch.arange(0, self.head_dim, 2, dtype=torch.float32) / self.head_dim
        inv_freq = 1.0 / (theta**exponents)
        angles = torch.outer(torch.arange(max_len, dtype=torch.float32), inv_freq)
        # rotate_half(x) * sin == roll(x, half) * [-sin, sin]: fewer ops per layer.
        cos = torch.cat([angles.cos(), angles.cos()], dim=-1)
        signed_sin = torch.cat([-angles.sin(), angles.sin()], dim=-1)
        return cos.to(self.device, self.dtype), signed_sin.to(self.device, self.dtype)

    def ensure_capacity(self, length: int) -> None:
        """Grow the cache (doubling, up to ``max_len``) so ``length`` positions fit."""
        if length <= self.capacity:
            return
        if length > self.max_len:
            raise ValueError(f"sequence length {length} exceeds max_len {self.max_len}")
        new_capacity = min(self.max_len, max(length, 2 * self.capacity))
        for name in ("k_cache", "v_cache"):
            old = getattr(self, name)
            grown = old.new_zeros((*old.shape[:3], new_capacity, old.shape[4]))
            grown[:, :, :, : self.capacity] = old
            setattr(self, name, grown)
        self.capacity = new_capacity

    def move_slot(self, src: int, dst: int, length: int) -> None:
        """Copy one sequence's cache from slot ``src`` to ``dst`` (to keep slots packed)."""
        self.k_cache[:, dst, :, :length] = self.k_cache[:, src, :, :length]
        self.v_cache[:, dst, :, :length] = self.v_cache[:, src, :, :length]

    # --- forward ------------------------------------------------------------------------

    @torch.inference_mode()
    def forward(self, tokens: torch.Tensor, first_slot: int, starts: torch.Tensor) -> torch.Tensor:
        """Run ``tokens`` [B, t] for slots ``first_slot .. first_slot+B-1`` whose sequences
        already hold ``starts`` [B] cached positions; returns last-position logits [B, vocab]."""
        batch, steps = tokens.shape
        end = int(starts.max()) + steps
        self.ensure_capacity(end)
        positions = starts[:, None] + torch.arange(steps, device=self.device)  # [B, t]
        cos = self._rope[0][positions][:, None]  # [B, 1, t, hd]: broadcast over heads
        sin = self._rope[1][positions][:, None]
        keys = torch.arange(end, device=self.device)
        mask = (keys[None, None, :] <= positions[:, :, None])[:, None]  # [B, 1, t, end]
        slots = slice(first_slot, first_slot + batch)
        # Where this step's keys and values go: one scatter index shared by every layer.
        write_index = positions[:, None, :, None].expand(batch, self.n_kv, steps, self.head_dim)
        n_qk, half = self.n_heads + self.n_kv, self.head_dim // 2
        q_size, kv_size = self.n_heads * self.head_dim, self.n_kv * self.head_dim

        x = F.embedding(tokens, self.embed)  # [B, t, H]
        for index, (norm1, qkv_w, o_w, norm2, gate_up_w, down_w) in enumerate(self.layers):
            h = F.rms_norm(x, (self.hidden,), norm1, self.eps)
            qkv = self._linear(h, qkv_w)
            # RoPE on queries and keys at once: [B, q_heads + kv_heads, t, head_dim]
            qk = qkv[..., : q_size + kv_size].reshape(batch, steps, n_qk, self.head_dim)
            qk = qk.transpose(1, 2)
            qk = torch.addcmul(qk * cos, torch.roll(qk, half, dims=-1), sin)
            q, k = qk[:, : self.n_heads], qk[:, self.n_heads :]
            v = qkv[..., q_size + kv_size :].reshape(batch, steps, self.n_kv, self.head_dim)
            k_layer = self.k_cache[index, slots]
            v_layer = self.v_cache[index, slots]
            k_layer.scatter_(2, write_index, k)
            v_layer.scatter_(2, write_index, v.transpose(1, 2))
            attn = F.scaled_dot_product_attention(
                q, k_layer[:, :, :end], v_layer[:, :, :end], attn_mask=mask, enable_gqa=True
            )
            x = x + self._linear(attn.transpose(1, 2).reshape(batch, steps, q_size), o_w)
            h = F.rms_norm(x, (self.hidden,), norm2, self.eps)
            gate, up = self._linear(h, gate_up_w).chunk(2, dim=-1)
            x = x + self._linear(F.silu(gate) * up, down_w)
        last = F.rms_norm(x[:, -1], (self.hidden,), self.final_norm, self.eps)
        return self._linear(last, self.lm_head).float()
