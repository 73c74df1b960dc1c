"""vitviz-fashion: a small timm ViT trained on Zalando's Fashion-MNIST (MIT licence)."""
