#!/usr/bin/python3
"""Real photos and PIL reference resizes for Vitrine's image pre-processing tests, written as
float32 .npy files into OUT_DIR/photos/: <name>.npy (H, W, 3) pixel values 0-255 of
scikit-learn's sample photos (china.jpg, flower.jpg: real colour photos, CC-BY), and
<name>_box_<w>x<h>.npy / <name>_gray_box_<w>x<h>.npy: PIL's BOX (block-average) resize of the
whole photo by whole-number factors (RGB, and after PIL's ITU-R 601-2 luma conversion), rounded to 8 bits by PIL.

    /usr/bin/python3 scripts/models/export_photo_goldens.py OUT_DIR
"""
import os
import sys

import numpy as np
from PIL import Image

PHOTOS = "/usr/lib/python3/dist-packages/sklearn/datasets/images"
# Whole-number reduction factors of the 640x427 photos: PIL's BOX filter then averages exactly the
# same pixels as an area resize (with fractional factors PIL snaps the window to whole pixels).
SIZES = [(64, 61), (160, 61), (10, 7)]


def main(out):
    d = os.path.join(out, "photos")
    os.makedirs(d, exist_ok=True)
    for name in ("china", "flower"):
        img = Image.open(os.path.join(PHOTOS, name + ".jpg")).convert("RGB")
        np.save(os.path.join(d, name + ".npy"), np.asarray(img, dtype=np.float32))
        for w, h in SIZES:
            rgb = img.resize((w, h), Image.BOX)
            np.save(os.path.join(d, f"{name}_box_{w}x{h}.npy"), np.asarray(rgb, dtype=np.float32))
            gray = img.convert("L").resize((w, h), Image.BOX)
            np.save(os.path.join(d, f"{name}_gray_box_{w}x{h}.npy"), np.asarray(gray, dtype=np.float32))


if __name__ == "__main__":
    main(sys.argv[1])
