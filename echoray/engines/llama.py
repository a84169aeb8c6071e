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
        self.lm_head = model.lm_head.weight
        self.layers = [self._fuse(layer) for layer in inner.layers]
        self._rope = self._rope_table(config, max_len)
        self.capacity = min(initial_capacity, max_len)
        shape = (len(self.layers), max_slots, self.n_kv, self.capacity, self.head_dim)
        self.k_cache = torch.zeros(shape, dtype=self.dtype, device=self.device)
        self.v_cache = torch.zeros(shape, dtype=self.dtype, device=self.device)

    # --- setup --------------------------------------------------------------------------

    @staticmethod
    def _fuse(layer: Any) -> tuple[torch.Tensor, ...]:
        attn, mlp = layer.self_attn, layer.mlp
        qkv = torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]).contiguous()
        gate_up = torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]).contiguous()
        return (
            layer.input_layernorm.weight,
            qkv,
            attn.o_proj.weight,
            layer.post_attention_layernorm.weight,
            gate_up,
            mlp.down_proj.weight,
        )

    def _rope_table(self, config: Any, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        params = getattr(config, "rope_parameters", None) or {}
        rope_type = params.get("rope_type", "default")
        if rope_type != "default":
            raise ValueError(f"LlamaRunner supports default RoPE only, not {rope_type!r}")
        theta = params.get("rope_theta", getattr(config, "rope_theta", 10000.0))
        exponents = torch.arange(0, self.head_dim, 2, dtype=torch.float32) / self.head_dim
        inv_freq = 1.0 / (theta**exponents)
        angles = torch.outer(torch.arange(max_len, dtype=torch.float32), inv_freq)
        angles = torch.cat([angles, angles], dim=-1)
        return angles.cos().to(self.device, self.dtype), angles.sin().to(self.device, self.dtype)

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
        cos, sin = self._rope[0][positions], self._rope[1][positions]  # [B, t, hd]
        cos, sin = cos[:, None], sin[:, None]  # broadcast over heads
        keys = torch.arange(end, device=self.device)
        visible = keys[None, None, :] <= positions[:, :, None]  # [B, t, end]
        mask = visible[:, None]  # [B, 1, t, end]
        slots = slice(first_slot, first_slot + batch)
        if steps == 1:
            write_at: tuple[Any, ...] = (
                torch.arange(first_slot, first_slot + batch),
                slice(None),
                starts,
            )
        else:
            start = int(starts[0])
            write_at = (slots, slice(None), slice(start, start + steps))
        q_size, kv_size = self.n_heads * self.head_dim, self.n_kv * self.head_dim

        x = F.embedding(tokens, self.embed)  # [B, t, H]
        for index, (norm1, qkv_w, o_w, norm2, gate_up_w, down_w) in enumerate(self.layers):
            h = F.rms_norm(x, (self.hidden,), norm1, self.eps)
            q, k, v = F.linear(h, qkv_w).split([q_size, kv_size, kv_size], dim=-1)
            q = q.view(batch, steps, self.n_heads, self.head_dim).transpose(1, 2)
            k = k.view(batch, steps, self.n_kv, self.head_dim).transpose(1, 2)
            v = v.view(batch, steps, self.n_kv, self.head_dim).transpose(1, 2)
            q = q * cos + _rotate_half(q) * sin
            k = k * cos + _rotate_half(k) * sin
            k_layer, v_layer = self.k_cache[index], self.v_cache[index]
            if steps == 1:
                k_layer[write_at] = k[:, :, 0]
                v_layer[write_at] = v[:, :, 0]
            else:
                k_layer[write_at] = k
                v_layer[write_at] = v
            attn = F.scaled_dot_product_attention(
                q, k_layer[slots, :, :end], v_layer[slots, :, :end], attn_mask=mask, enable_gqa=True
            )
            x = x + F.linear(attn.transpose(1, 2).reshape(batch, steps, q_size), o_w)
            h = F.rms_norm(x, (self.hidden,), norm2, self.eps)
            gate, up = F.linear(h, gate_up_w).chunk(2, dim=-1)
            x = x + F.linear(F.silu(gate) * up, down_w)
        last = F.rms_norm(x[:, -1], (self.hidden,), self.final_norm, self.eps)
        return F.linear(last, self.lm_head).float()


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)
