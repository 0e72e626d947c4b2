"""BEGAN: Boundary Equilibrium GAN (Berthelot, Schumm, Metz 2017)."""
IMAGE_SIZES = (32, 64, 128)   # 8x8 at the bottleneck, log2(size) - 2 scales
