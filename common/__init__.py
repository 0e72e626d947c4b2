"""What every package of the suite shares: data, pipelines, the GAN base model, training, plots."""
import os

from common import quiet

# Users see their progress, not TensorFlow's start-up logs.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
quiet.install()
