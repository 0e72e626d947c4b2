"""Evaluation metrics shared by every package: FID/KID on the TF-FID InceptionV3 (`fid`,
`inception`), reference-classifier scores (`classifier`) and SSIM (`ssim`).

Submodules import TensorFlow; import them directly (`from common.metrics import fid`)."""
