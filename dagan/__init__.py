"""DAGAN (Antoniou, Storkey, Edwards 2017): an image-conditional WGAN-GP that turns one image of a
class into new ones, and dagan_torch's few-shot protocol to measure whether they help a classifier."""
