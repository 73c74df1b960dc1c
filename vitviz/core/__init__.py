"""Core: load a timm ViT, decode images, patch geometry, and the hooked forward pass (capture)."""
