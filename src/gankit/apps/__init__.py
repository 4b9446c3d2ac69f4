"""Uses of trained GANs, built on the core. The core reaches them only through `load_run`, which
hands runs of a translation task to `translate.load_translator`.

    translate  pix2pix (paired A -> B) and colorization (gray -> color from color photos)
    cyclegan   unpaired A <-> B translation and style transfer
    text       words and short sentences from a text file (WGAN-GP language model)
    color      RGB <-> YCbCr, PSNR, SSIM, colorfulness
"""
