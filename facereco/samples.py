"""Photos that install with packages already here (scikit-image, matplotlib), found in one place.

The dashboard's sample photos and demo group, the tests and the benchmarks all use them, so a
demo or a test needs no image files of its own.
"""

from __future__ import annotations

from pathlib import Path

# name -> (package, file inside the package's data folder)
PACKAGE_PHOTOS: dict[str, tuple[str, str]] = {
    "astronaut": ("skimage", "astronaut.png"),  # Eileen Collins, one face
    "grace_hopper": ("matplotlib", "grace_hopper.jpg"),  # one face
    "coffee": ("skimage", "coffee.png"),  # no face
    "chelsea": ("skimage", "chelsea.png"),  # a cat: no human face
}


def package_photo(name: str) -> Path:
    """The path of a photo that ships with an installed package (it may be absent from a slim install)."""
    package, file_name = PACKAGE_PHOTOS[name]
    if package == "skimage":
        import skimage

        return Path(skimage.__file__).parent / "data" / file_name
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / file_name
