"""3D Tiles 1.1 / glTF 2.0 format library: arrays in, bytes and JSON out. Knows nothing of twin."""
